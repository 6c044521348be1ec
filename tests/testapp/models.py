"""The "new release" of the in-process test app.

The command tests pair these models with fixture migration modules (in
tests/commands/migrations/) that hold the previous release's history: each
fixture describes these models plus what the previous release had and this
one removed. The app has no migrations package of its own, so nothing writes
into the source tree; the tests point MIGRATION_MODULES at a temporary copy.
"""

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    title = models.CharField(max_length=100)
    summary = models.TextField(null=True, blank=True)


class Shelf(models.Model):
    name = models.CharField(max_length=50)

    class Meta:
        db_table = "green_cmd_shelf"
