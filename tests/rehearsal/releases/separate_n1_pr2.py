"""Release N+1, second makemigrations run: fields of the renamed tables change.

Crate.title is renamed to label and Crate.size made unique (SQLite rebuilds
the table while the mirror under its old name exists); Bin.weight is renamed
to mass after its table moved in the first run.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Crate(models.Model):
    label = models.CharField(max_length=40)
    size = models.IntegerField(unique=True)


class Bin(models.Model):
    name = models.CharField(max_length=40)
    mass = models.IntegerField()

    class Meta:
        db_table = "shop_storage_bin"
