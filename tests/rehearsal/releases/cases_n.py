"""Release N of the removal cases: one model per case, every field still here.

FieldsAdded is the other way round: release N+1 adds NOT NULL fields to it.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the relations of the other models point at."""

    name = models.CharField(max_length=40)


class NullableRemoved(models.Model):
    kept = models.CharField(max_length=40)
    note = models.CharField(max_length=40, null=True)


class NotNullRemoved(models.Model):
    kept = models.CharField(max_length=40)
    code = models.IntegerField()


class DefaultRemoved(models.Model):
    kept = models.CharField(max_length=40)
    status = models.CharField(max_length=40, default="new")


class TimestampsRemoved(models.Model):
    kept = models.CharField(max_length=40)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)


class RelationsRemoved(models.Model):
    kept = models.CharField(max_length=40)
    target = models.ForeignKey(Target, models.CASCADE, related_name="relations")
    profile = models.OneToOneField(Target, models.CASCADE, related_name="relations_profile")


class ManyToManyRemoved(models.Model):
    kept = models.CharField(max_length=40)
    tags = models.ManyToManyField(Target, related_name="tagged")


class DbColumnRemoved(models.Model):
    kept = models.CharField(max_length=40)
    legacy = models.CharField(max_length=40, db_column="legacy_col")


class IndexedRemoved(models.Model):
    kept = models.CharField(max_length=40)
    rank = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["rank"], name="shop_indexed_rank_idx")]


class UniqueTogetherRemoved(models.Model):
    kept = models.CharField(max_length=40)
    slot = models.IntegerField()

    class Meta:
        unique_together = [("kept", "slot")]


class ConstraintsRemoved(models.Model):
    kept = models.CharField(max_length=40)
    serial = models.IntegerField()
    quantity = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kept", "serial"], name="shop_kept_serial_uniq"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="shop_quantity_gte_0"),
        ]


class CustomTableRemoved(models.Model):
    kept = models.CharField(max_length=40)
    extra = models.IntegerField()

    class Meta:
        db_table = "shop_custom_table"


class Gone(models.Model):
    """Deleted in release N+1."""

    label = models.CharField(max_length=40)
    target = models.ForeignKey(Target, models.CASCADE, related_name="gones")


class Referrer(models.Model):
    """Loses its foreign key to the deleted model."""

    kept = models.CharField(max_length=40)
    gone = models.ForeignKey(Gone, models.CASCADE, related_name="referrers")


class FieldsAdded(models.Model):
    """Gains NOT NULL fields in release N+1; this release's inserts omit them."""

    kept = models.CharField(max_length=40)
