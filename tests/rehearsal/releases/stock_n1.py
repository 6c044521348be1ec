"""Release N+1 of the control rehearsal: a NOT NULL field removed, one added, one renamed.

Django adds Meter.reading with a default that it drops in the same
migration, so release N's inserts, which omit the column, fail. It renames
the column of Badge.label (now caption), which release N still uses.

Copied as ``shop/models.py``; never imported by pytest.
"""

from django.db import models


class Ticket(models.Model):
    title = models.CharField(max_length=40)


class Meter(models.Model):
    name = models.CharField(max_length=40)
    reading = models.IntegerField(default=0)


class Badge(models.Model):
    caption = models.CharField(max_length=40)
