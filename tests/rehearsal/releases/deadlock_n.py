"""Release N of the PostgreSQL lock-order rehearsal: two tables with a foreign key to Target.

Copied as ``shop/models.py``; never imported by pytest.
"""

from django.db import models


class Target(models.Model):
    name = models.CharField(max_length=40)


class Left(models.Model):
    kept = models.CharField(max_length=40)
    target = models.ForeignKey(Target, models.CASCADE, null=True, related_name="+")


class Right(models.Model):
    kept = models.CharField(max_length=40)
    target = models.ForeignKey(Target, models.CASCADE, null=True, related_name="+")
