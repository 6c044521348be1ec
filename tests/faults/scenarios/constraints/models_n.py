"""Release N of the constraints scenario: tables that get indexes and constraints."""

from django.db import models


class Ranked(models.Model):
    rank = models.IntegerField()
    old_rank = models.IntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["old_rank"], name="faults_old_rank_idx")]


class Checked(models.Model):
    quantity = models.IntegerField(null=True)


class Serial(models.Model):
    serial = models.IntegerField()


class Coded(models.Model):
    code = models.CharField(max_length=20)


class Paired(models.Model):
    left = models.IntegerField()
    right = models.CharField(max_length=20, null=True)


class Tagged(models.Model):
    tag = models.CharField(max_length=20, unique=True)

    class Meta:
        # One CREATE TABLE: PostgreSQL makes one constraint of the two.
        constraints = [models.UniqueConstraint(fields=["tag"], name="faults_tag_uniq")]
