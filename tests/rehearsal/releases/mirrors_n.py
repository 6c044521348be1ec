"""Release N of the renamed model whose table is altered in the same release (mirrors_n1.py).

Shelf is renamed to Rack, its field label to tag, and it gains a unique
constraint on title: on SQLite each rebuilds the renamed table
while the mirror under its old name serves release N.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the many-to-many field points at."""

    name = models.CharField(max_length=40)


class Shelf(models.Model):
    title = models.CharField(max_length=40)
    label = models.CharField(max_length=40)
    items = models.ManyToManyField(Target, related_name="shelves")
