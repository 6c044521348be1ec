"""The new release of a small app whose Person model, with friends of its own kind, became Human."""

from django.db import models


class Human(models.Model):
    name = models.CharField(max_length=20)
    friends = models.ManyToManyField("self", symmetrical=False)
