"""The new release of a small app that adds foreign keys to an existing table."""

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, models.CASCADE, null=True)
    editor = models.OneToOneField(Author, models.SET_NULL, null=True, related_name="edited_book")
