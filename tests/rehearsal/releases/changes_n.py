"""Release N of the change cases: one model per change release N+1 makes.

Renamed fields, a nullable field made NOT NULL, widened types, and indexes,
constraints and a foreign key added to tables that hold rows. The renamed
model and the table-rewriting type change are in views_n.py.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the relations of the other models point at."""

    name = models.CharField(max_length=40)


# --- Field renames: one model each, so makemigrations asks one clear question.


class CharRenamed(models.Model):
    title = models.CharField(max_length=40)


class IntegerRenamed(models.Model):
    count = models.IntegerField(default=0)


class NullableRenamed(models.Model):
    note = models.CharField(max_length=40, null=True)


class ForeignKeyRenamed(models.Model):
    owner = models.ForeignKey(Target, models.CASCADE, related_name="renamed_fks")


class ColumnKeptRenamed(models.Model):
    label = models.CharField(max_length=40)


# --- A nullable field made NOT NULL with a default.


class MadeRequired(models.Model):
    kept = models.CharField(max_length=40)
    code = models.IntegerField(null=True)


# --- Type changes made in place.


class Widened(models.Model):
    name = models.CharField(max_length=20)
    price = models.DecimalField(max_digits=6, decimal_places=2)


# --- Indexes, constraints and a foreign key added to tables with rows.


class IndexesChanged(models.Model):
    rank = models.IntegerField()
    old_rank = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["old_rank"], name="shop_old_rank_idx")]


class CheckAdded(models.Model):
    quantity = models.IntegerField()


class UniqueAdded(models.Model):
    serial = models.IntegerField()


class ForeignKeyAdded(models.Model):
    kept = models.CharField(max_length=40)
