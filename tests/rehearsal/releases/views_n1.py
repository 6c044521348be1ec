"""Release N+1 of the renamed table and the retyped column.

Catalog is now Library: table shop_catalog -> shop_library, many-to-many
table shop_catalog_items -> shop_library_items (column catalog_id ->
library_id). IntegerRetyped.amount is a BigIntegerField.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the many-to-many field points at."""

    name = models.CharField(max_length=40)


class Library(models.Model):
    title = models.CharField(max_length=40)
    items = models.ManyToManyField(Target, related_name="catalogs")


class IntegerRetyped(models.Model):
    kept = models.CharField(max_length=40)
    amount = models.BigIntegerField()
