"""Release N+1 of the custom operations no other rehearsal pair runs.

UniqueFieldMade.code is unique (AlterFieldUniqueConcurrently),
UniqueTogetherMade has unique_together (AlterUniqueTogetherConcurrently),
IndexedRenamed.rank is position (a synced column with its index),
ConstraintAdded.target has its constraint (AlterFieldForeignKeyNotValid),
TableRenamed's table is shop_new_table (AlterModelTableWithViews).

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the foreign keys point at."""

    name = models.CharField(max_length=40)


class UniqueFieldMade(models.Model):
    code = models.IntegerField(unique=True)


class UniqueTogetherMade(models.Model):
    left = models.IntegerField()
    right = models.IntegerField()

    class Meta:
        unique_together = [("left", "right")]


class IndexedRenamed(models.Model):
    position = models.IntegerField(db_index=True)


class ConstraintAdded(models.Model):
    target = models.ForeignKey(Target, models.DO_NOTHING, related_name="constrained")


class TableRenamed(models.Model):
    label = models.CharField(max_length=40)

    class Meta:
        db_table = "shop_new_table"
