"""Release N+1, first pull request: Item loses code, its rank gets an index.

The removal is a pre-deploy prep step and a post-deploy drop; the index is
built concurrently, in a non-atomic migration. Copied as ``shop/models.py``;
never imported by pytest.
"""

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=40)
    rank = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["rank"], name="shop_item_rank_idx")]


class Tag(models.Model):
    label = models.CharField(max_length=40)
