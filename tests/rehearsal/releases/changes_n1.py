"""Release N+1 of the change cases: each model of release N changed one way.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the relations of the other models point at."""

    name = models.CharField(max_length=40)


# --- Field renames whose column changes (phased), and one that keeps it.


class CharRenamed(models.Model):
    headline = models.CharField(max_length=40)


class IntegerRenamed(models.Model):
    total = models.IntegerField(default=0)


class NullableRenamed(models.Model):
    remark = models.CharField(max_length=40, null=True)


class ForeignKeyRenamed(models.Model):
    holder = models.ForeignKey(Target, models.CASCADE, related_name="renamed_fks")


class ColumnKeptRenamed(models.Model):
    tag = models.CharField(max_length=40, db_column="label")


# --- NOT NULL, with a default for the rows that hold NULL.


class MadeRequired(models.Model):
    kept = models.CharField(max_length=40)
    code = models.IntegerField(default=0)


# --- Widenings in place.


class Widened(models.Model):
    name = models.CharField(max_length=80)
    price = models.DecimalField(max_digits=10, decimal_places=2)


# --- Indexes, constraints and a foreign key added to tables with rows.


class IndexesChanged(models.Model):
    rank = models.IntegerField()
    old_rank = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["rank"], name="shop_rank_idx")]


class CheckAdded(models.Model):
    quantity = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="shop_quantity_gte_0")
        ]


class UniqueAdded(models.Model):
    serial = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["serial"], name="shop_serial_uniq")]


class ForeignKeyAdded(models.Model):
    kept = models.CharField(max_length=40)
    target = models.ForeignKey(Target, models.SET_NULL, null=True, related_name="added_fks")
