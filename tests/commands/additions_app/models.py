"""The "new release" of the additions app: NOT NULL fields the previous release lacks.

The previous release is the fixture history in tests/commands/migrations/additions/
(Gadget with only ``name``). test_additions.py installs the app for its tests
only; it has no migrations package of its own.
"""

import uuid

from django.db import models
from django.utils import timezone


def make_serial() -> str:
    """A callable default the database cannot compute."""
    return uuid.uuid4().hex[:12]


class Status(models.TextChoices):
    DRAFT = "d", "Draft"
    PUBLISHED = "p", "Published"


class Maker(models.Model):
    name = models.CharField(max_length=50)


class Gadget(models.Model):
    name = models.CharField(max_length=50)
    # Added by this release:
    quantity = models.IntegerField(default=7)
    status = models.CharField(max_length=1, choices=Status.choices, default=Status.PUBLISHED)
    created = models.DateTimeField(default=timezone.now)
    touched = models.DateTimeField(auto_now=True)
    token = models.UUIDField(default=uuid.uuid4, unique=True)
    note = models.CharField(max_length=50, blank=True)
    maker = models.ForeignKey(Maker, models.PROTECT, default=1, related_name="gadgets")
    remark = models.TextField(null=True)


class Widget(models.Model):
    name = models.CharField(max_length=50)
    serial = models.CharField(max_length=12, default=make_serial)


class Part(models.Model):
    """Ordered within its gadget: the table has a NOT NULL ``_order`` column."""

    gadget = models.ForeignKey(Gadget, models.CASCADE, related_name="parts")
    name = models.CharField(max_length=50)

    class Meta:
        order_with_respect_to = "gadget"
