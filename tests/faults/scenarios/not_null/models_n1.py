"""Release N+1 of the NOT NULL scenario: the field NOT NULL, with a default."""

from django.db import models


class Required(models.Model):
    kept = models.CharField(max_length=20)
    code = models.IntegerField(default=0)
