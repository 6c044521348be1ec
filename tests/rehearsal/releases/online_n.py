"""Release N of the custom operations no other rehearsal pair runs (online_n1.py changes them).

Each model changes one way in release N+1: a field made unique, a field set
made unique together, an indexed field renamed, a foreign key without a
constraint given one, a table renamed (db_table).

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the foreign keys point at."""

    name = models.CharField(max_length=40)


class UniqueFieldMade(models.Model):
    code = models.IntegerField()


class UniqueTogetherMade(models.Model):
    left = models.IntegerField()
    right = models.IntegerField()


class IndexedRenamed(models.Model):
    rank = models.IntegerField(db_index=True)


class ConstraintAdded(models.Model):
    target = models.ForeignKey(
        Target, models.DO_NOTHING, db_constraint=False, related_name="constrained"
    )


class TableRenamed(models.Model):
    label = models.CharField(max_length=40)

    class Meta:
        db_table = "shop_old_table"
