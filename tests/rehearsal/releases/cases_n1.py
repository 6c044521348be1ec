"""Release N+1 of the removal cases: each model lost its field, Gone is deleted.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the relations of the other models point at."""

    name = models.CharField(max_length=40)


class NullableRemoved(models.Model):
    kept = models.CharField(max_length=40)


class NotNullRemoved(models.Model):
    kept = models.CharField(max_length=40)


class DefaultRemoved(models.Model):
    kept = models.CharField(max_length=40)


class TimestampsRemoved(models.Model):
    kept = models.CharField(max_length=40)


class RelationsRemoved(models.Model):
    kept = models.CharField(max_length=40)


class ManyToManyRemoved(models.Model):
    kept = models.CharField(max_length=40)


class DbColumnRemoved(models.Model):
    kept = models.CharField(max_length=40)


class IndexedRemoved(models.Model):
    kept = models.CharField(max_length=40)


class UniqueTogetherRemoved(models.Model):
    kept = models.CharField(max_length=40)


class ConstraintsRemoved(models.Model):
    kept = models.CharField(max_length=40)


class CustomTableRemoved(models.Model):
    kept = models.CharField(max_length=40)

    class Meta:
        db_table = "shop_custom_table"


class Referrer(models.Model):
    """Lost its foreign key to the deleted model."""

    kept = models.CharField(max_length=40)
