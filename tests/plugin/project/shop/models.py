"""Release N+1 of the shop: items get a slug, which release N does not know."""

from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=50)
    slug = models.CharField(max_length=50, db_default="")
