"""The new release of an app whose one model changes in every way at once."""

from django.db import models


class Book(models.Model):
    headline = models.CharField(max_length=50)  # renamed from title
    note = models.CharField(max_length=40)  # widened from 10
    code = models.BigIntegerField()  # was IntegerField
    isbn = models.CharField(max_length=13, default="")  # added
    # pages removed

    class Meta:
        indexes = [models.Index(fields=["headline"], name="combo_headline_idx")]
