"""Release N of the table rename scenario."""

from django.db import models


class Shelf(models.Model):
    label = models.CharField(max_length=20)
    size = models.IntegerField(null=True)
