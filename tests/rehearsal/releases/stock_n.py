"""Release N of the control rehearsal (Django's stock migrations).

Copied as ``shop/models.py``; never imported by pytest.
"""

from django.db import models


class Ticket(models.Model):
    title = models.CharField(max_length=40)
    code = models.IntegerField()


class Meter(models.Model):
    name = models.CharField(max_length=40)


class Badge(models.Model):
    label = models.CharField(max_length=40)
