"""Release N+1, first makemigrations run: Box is Crate, Bin gets its own db_table.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Crate(models.Model):
    title = models.CharField(max_length=40)
    size = models.IntegerField()


class Bin(models.Model):
    name = models.CharField(max_length=40)
    weight = models.IntegerField()

    class Meta:
        db_table = "shop_storage_bin"
