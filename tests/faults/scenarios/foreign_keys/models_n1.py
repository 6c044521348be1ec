"""Release N+1 of the foreign keys scenario: a foreign key added, a constraint added."""

from django.db import models


class Target(models.Model):
    name = models.CharField(max_length=20)


class Linked(models.Model):
    kept = models.CharField(max_length=20)
    target = models.ForeignKey(Target, models.SET_NULL, null=True, related_name="linked")


class Pointer(models.Model):
    target = models.ForeignKey(Target, models.DO_NOTHING, null=True)
