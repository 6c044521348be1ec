"""The new release of a small app whose fields were renamed.

Release N (the history in tests/commands/test_renames.py) has Book.title,
pages, author and score; this release renames them. ``blurb`` becomes
``summary`` but keeps its column, so it needs no DDL.
"""

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=20)


class Book(models.Model):
    headline = models.CharField(max_length=50)
    page_count = models.IntegerField(default=0)
    writer = models.ForeignKey(Author, models.CASCADE)
    rating = models.IntegerField(null=True)
    summary = models.CharField(max_length=20, db_column="blurb", default="")
