"""Release N+1, second pull request (same release): Tag gains a NOT NULL field with a default.

Its migration is placed beside the first pull request's pending drop.
Copied as ``shop/models.py`` over the first pull request's; never imported
by pytest.
"""

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=40)
    rank = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["rank"], name="shop_item_rank_idx")]


class Tag(models.Model):
    label = models.CharField(max_length=40)
    color = models.CharField(max_length=10, default="red")
