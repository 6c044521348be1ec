"""Release N+1: Shelf is Rack, label is tag, title is unique.

Copied as ``shop/models.py`` into a temporary project; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    """Kept: what the many-to-many field points at."""

    name = models.CharField(max_length=40)


class Rack(models.Model):
    title = models.CharField(max_length=40)
    tag = models.CharField(max_length=40)
    items = models.ManyToManyField(Target, related_name="shelves")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["title"], name="rack_title_unique")]
