"""Release N+1 of the db_column scenario.

Three columns renamed by db_column (one also made NOT NULL, one also widened),
a db_index added and one dropped, a unique uuid4 field and a JSONField with
a callable default added to the existing table.
"""

import uuid

from django.db import models


class Columned(models.Model):
    kept = models.CharField(max_length=20)
    label = models.CharField(max_length=20, db_column="label_text")
    code = models.IntegerField(default=0, db_column="code_value")
    amount = models.BigIntegerField(db_column="amount_big")
    rank = models.IntegerField(db_index=True)
    level = models.IntegerField()
    token = models.UUIDField(default=uuid.uuid4, unique=True)
    tags = models.JSONField(default=list)
