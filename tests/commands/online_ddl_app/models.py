"""The "new release" of the online DDL app: an index and a check on an existing table.

The previous release is the fixture history in tests/commands/migrations/online_ddl/
(Ledger without them), optionally followed by online_ddl_dropped_index/ (an
index on ``amount`` that this release no longer declares). test_online_ddl.py
installs the app for its tests only; it has no migrations package of its own.
"""

from django.db import models


class Ledger(models.Model):
    account = models.CharField(max_length=20)
    amount = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["account"], name="green_ddl_account_idx")]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="green_ddl_amount_gte_0")
        ]
