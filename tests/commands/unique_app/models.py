"""The new release of a small app that adds a unique constraint to a table."""

from django.db import models


class Item(models.Model):
    code = models.CharField(max_length=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code"], name="unique_item_code")]
