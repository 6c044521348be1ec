"""Release N of the renamed table and the retyped column (views_n1.py changes them).

Catalog is renamed to Library, its table and its many-to-many table with it;
IntegerRetyped.amount becomes a BigIntegerField (a table rewrite, so an
expand/contract).

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the many-to-many field points at."""

    name = models.CharField(max_length=40)


class Catalog(models.Model):
    title = models.CharField(max_length=40)
    items = models.ManyToManyField(Target, related_name="catalogs")


class IntegerRetyped(models.Model):
    kept = models.CharField(max_length=40)
    amount = models.IntegerField()
