"""Release N of the squash rehearsal: release N+1's migrations are squashed before its deploy.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=40)
    code = models.IntegerField()  # removed in release N+1
    rank = models.IntegerField()  # indexed in release N+1


class Tag(models.Model):
    label = models.CharField(max_length=40)
