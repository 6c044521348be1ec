"""Release N+1 of the constraints scenario: an index moved, four constraints added, one removed."""

from django.db import models


class Ranked(models.Model):
    rank = models.IntegerField()
    old_rank = models.IntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["rank"], name="faults_rank_idx")]


class Checked(models.Model):
    quantity = models.IntegerField(null=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="faults_quantity_gte_0"
            )
        ]


class Serial(models.Model):
    serial = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["serial"], name="faults_serial_uniq")]


class Coded(models.Model):
    code = models.CharField(max_length=20, unique=True)


class Paired(models.Model):
    left = models.IntegerField()
    right = models.CharField(max_length=20, null=True)

    class Meta:
        unique_together = [("left", "right")]


class Tagged(models.Model):
    tag = models.CharField(max_length=20, unique=True)
