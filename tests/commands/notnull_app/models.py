"""The new release of a small app whose nullable column becomes NOT NULL."""

from django.db import models


class Item(models.Model):
    code = models.CharField(max_length=10, default="none")
