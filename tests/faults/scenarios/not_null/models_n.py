"""Release N of the NOT NULL scenario: a nullable field."""

from django.db import models


class Required(models.Model):
    kept = models.CharField(max_length=20)
    code = models.IntegerField(null=True)
