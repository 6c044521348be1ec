"""Release N+1 of the removal cases: each model lost its field, Gone is deleted.

FieldsAdded gains NOT NULL fields, each with a default the database can
compute, so release N's inserts keep working until the post-deploy stage.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

import uuid

from django.db import models
from django.utils import timezone


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


class FieldsAdded(models.Model):
    kept = models.CharField(max_length=40)
    quantity = models.IntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    token = models.UUIDField(default=uuid.uuid4, unique=True)
    note = models.CharField(max_length=40, blank=True)
    # Release N's rows point at the first Target (its workload creates Targets
    # from its first iteration on, so the row exists before pre-deploy).
    target = models.ForeignKey(Target, models.PROTECT, default=1, related_name="added")
