"""Release N of the type change scenario."""

from django.db import models


class Retyped(models.Model):
    kept = models.CharField(max_length=20)
    amount = models.IntegerField()
