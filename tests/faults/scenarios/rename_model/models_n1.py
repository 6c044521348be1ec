"""Release N+1 of the model rename scenario: Catalog is Library, its tables renamed."""

from django.db import models


class Target(models.Model):
    name = models.CharField(max_length=20)


class Library(models.Model):
    title = models.CharField(max_length=20)
    items = models.ManyToManyField(Target, related_name="catalogs")


class Entry(models.Model):
    """References the renamed model: its foreign key is re-created by the rename."""

    catalog = models.ForeignKey(Library, models.CASCADE, related_name="entries")
    note = models.CharField(max_length=20, null=True)
