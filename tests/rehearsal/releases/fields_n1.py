"""Release N+1 of the field-level changes of issue 12.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class ColumnMoved(models.Model):
    kept = models.CharField(max_length=40)
    amount = models.IntegerField(db_column="amount_col")


class ColumnMovedRequired(models.Model):
    kept = models.CharField(max_length=40)
    amount = models.IntegerField(db_column="amount_col", default=0)


class UniqueDropped(models.Model):
    kept = models.CharField(max_length=40)


class JsonAdded(models.Model):
    kept = models.CharField(max_length=40)
    tags = models.JSONField(default=list)


class IndexAdded(models.Model):
    kept = models.CharField(max_length=40)
    rank = models.IntegerField(db_index=True)
