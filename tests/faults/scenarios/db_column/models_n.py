"""Release N of the db_column scenario: fields whose columns and indexes change."""

from django.db import models


class Columned(models.Model):
    kept = models.CharField(max_length=20)
    label = models.CharField(max_length=20)
    code = models.IntegerField(null=True)
    amount = models.IntegerField()
    rank = models.IntegerField()
    level = models.IntegerField(db_index=True)
