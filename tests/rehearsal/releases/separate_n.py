"""Release N of changes authored in separate makemigrations runs (separate_n1_pr*.py).

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Box(models.Model):
    """Renamed to Crate in the first run; a field renamed and one made unique in the second."""

    title = models.CharField(max_length=40)
    size = models.IntegerField()


class Bin(models.Model):
    """Its table changes in the first run; a field renamed in the second."""

    name = models.CharField(max_length=40)
    weight = models.IntegerField()
