"""The new release of a small app whose columns got wider types."""

from django.db import models


class Meter(models.Model):
    reading = models.BigIntegerField()  # was IntegerField: the table is rewritten
    label = models.CharField(max_length=30)  # was max_length=10: in place
    price = models.DecimalField(max_digits=8, decimal_places=2)  # was (5, 2): in place
