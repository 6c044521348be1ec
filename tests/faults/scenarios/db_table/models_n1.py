"""Release N+1 of the table rename scenario: Meta.db_table changed."""

from django.db import models


class Shelf(models.Model):
    label = models.CharField(max_length=20)
    size = models.IntegerField(null=True)

    class Meta:
        db_table = "faults_bookshelf"
