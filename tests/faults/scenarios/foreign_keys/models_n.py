"""Release N of the foreign keys scenario: a key without constraint, a table without key."""

from django.db import models


class Target(models.Model):
    name = models.CharField(max_length=20)


class Linked(models.Model):
    kept = models.CharField(max_length=20)


class Pointer(models.Model):
    target = models.ForeignKey(Target, models.DO_NOTHING, db_constraint=False, null=True)
