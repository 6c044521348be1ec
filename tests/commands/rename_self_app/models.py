"""The new release of a small app whose Person model, with friends of its own kind, became Human."""

import uuid

from django.db import models


class Human(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=20)
    friends = models.ManyToManyField("self", symmetrical=False)
