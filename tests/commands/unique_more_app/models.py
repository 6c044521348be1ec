"""The new release of a small app that makes a field unique and adds unique_together."""

from django.db import models


class Item(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=10)
    n = models.IntegerField()

    class Meta:
        unique_together = [("name", "n")]
