"""Release N+1, first makemigrations run: Shelf renamed Rack."""

from django.db import models


class Rack(models.Model):
    name = models.CharField(max_length=20)
    code = models.CharField(max_length=20)
    rank = models.IntegerField(null=True)


class Book(models.Model):
    """References the renamed model."""

    shelf = models.ForeignKey(Rack, models.CASCADE, related_name="books")
    title = models.CharField(max_length=20, null=True)
