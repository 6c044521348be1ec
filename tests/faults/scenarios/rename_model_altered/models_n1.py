"""Release N+1: Shelf is Rack, its code made unique and its rank NOT NULL.

On SQLite both changes rebuild the renamed table while its old name's
mirror (mirror.py) serves release N.
"""

from django.db import models


class Rack(models.Model):
    name = models.CharField(max_length=20)
    code = models.CharField(max_length=20, unique=True)
    rank = models.IntegerField(default=0)


class Book(models.Model):
    """References the renamed model."""

    shelf = models.ForeignKey(Rack, models.CASCADE, related_name="books")
    title = models.CharField(max_length=20, null=True)
