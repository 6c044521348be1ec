"""Release N+1 of the field rename scenario: both fields renamed (their columns too)."""

from django.db import models


class Renamed(models.Model):
    headline = models.CharField(max_length=20)
    remark = models.CharField(max_length=20, null=True)
