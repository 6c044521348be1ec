"""Release N of the field rename scenario."""

from django.db import models


class Renamed(models.Model):
    title = models.CharField(max_length=20)
    note = models.CharField(max_length=20, null=True)
