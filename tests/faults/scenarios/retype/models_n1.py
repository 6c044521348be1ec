"""Release N+1 of the type change scenario: a table-rewriting type change."""

from django.db import models


class Retyped(models.Model):
    kept = models.CharField(max_length=20)
    amount = models.BigIntegerField()
