"""Release N+1 of the PostgreSQL lock-order rehearsal: both foreign keys removed.

Copied as ``shop/models.py``; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    name = models.CharField(max_length=40)


class Left(models.Model):
    kept = models.CharField(max_length=40)


class Right(models.Model):
    kept = models.CharField(max_length=40)
