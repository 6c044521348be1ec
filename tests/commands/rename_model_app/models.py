"""The new release of a small app whose Book model was renamed Volume."""

from django.db import models
from django.db.models.functions import Length


class Author(models.Model):
    name = models.CharField(max_length=20)


class Volume(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, models.CASCADE)
    fans = models.ManyToManyField(Author, related_name="favourites")
    title_length = models.GeneratedField(
        expression=Length("title"), output_field=models.IntegerField(), db_persist=True
    )
