"""Release N of the scenario of a model renamed and altered in one release."""

from django.db import models


class Shelf(models.Model):
    name = models.CharField(max_length=20)
    code = models.CharField(max_length=20)
    rank = models.IntegerField(null=True)


class Book(models.Model):
    """References the renamed model."""

    shelf = models.ForeignKey(Shelf, models.CASCADE, related_name="books")
    title = models.CharField(max_length=20, null=True)
