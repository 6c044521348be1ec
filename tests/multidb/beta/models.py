"""Release N+1: code is gone, size is new (release N: 0001_initial of the tests)."""

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=50)
    size = models.IntegerField(default=0)
