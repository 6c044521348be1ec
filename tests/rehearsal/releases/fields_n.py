"""Release N of the field-level changes of issue 12 (fields_n1.py changes them).

ColumnMoved.amount gets db_column, ColumnMovedRequired.amount gets db_column
and becomes NOT NULL, UniqueDropped.code (unique, with a default) is removed,
JsonAdded gets a JSONField(default=list), IndexAdded.rank gets db_index.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class ColumnMoved(models.Model):
    kept = models.CharField(max_length=40)
    amount = models.IntegerField()


class ColumnMovedRequired(models.Model):
    kept = models.CharField(max_length=40)
    amount = models.IntegerField(null=True)


class UniqueDropped(models.Model):
    kept = models.CharField(max_length=40)
    code = models.CharField(max_length=40, unique=True, default="x")


class JsonAdded(models.Model):
    kept = models.CharField(max_length=40)


class IndexAdded(models.Model):
    kept = models.CharField(max_length=40)
    rank = models.IntegerField()
