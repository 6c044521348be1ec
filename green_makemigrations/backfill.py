"""Update many rows of a live table in small batches, each its own transaction.

One ``UPDATE`` of every row holds the row locks of the whole table until it
commits, and a release that writes those rows waits that long. Here the rows
are updated ``batch_size`` at a time: walking ranges of an integer primary
key (each batch finds its rows through the primary key index, however many
rows are already done), or, for other primary keys, repeating a ``LIMIT``-ed
update until it changes fewer rows than the limit. On PostgreSQL the
session compresses its WAL (see wal.py) and has its page writes flushed as
it goes (see writeback.py) meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from . import conf
from .wal import compressed_wal
from .writeback import flushed_writes

INTEGER_KEY_TYPES = (
    "AutoField",
    "BigAutoField",
    "SmallAutoField",
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
)


def update_in_batches(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    assignments: str,
    condition: str,
    params: Sequence[Any] = (),
    batch_size: int = 1000,
) -> int:
    """Run ``UPDATE table SET assignments WHERE condition`` in batches; return rows changed.

    assignments and condition are SQL with quoted column names and %s
    placeholders for params (used by assignments first, then condition). The
    condition must become false for an updated row, or the ``LIMIT`` walk of
    a non-integer primary key would not end. Under ``sqlmigrate`` the
    statement is shown once, without batching.
    """
    connection = schema_editor.connection
    quote = schema_editor.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    assert pk is not None  # concrete models have one
    pk_column = quote(str(pk.column))
    if schema_editor.collect_sql:
        schema_editor.execute(f"UPDATE {table} SET {assignments} WHERE {condition}", params)
        return 0
    nice_ratio = conf.backfill_nice_ratio()
    with (
        compressed_wal(connection, conf.wal_compression()),
        flushed_writes(connection, conf.backfill_flush_after()),
    ):
        return _update(
            connection, table, pk_column, pk, assignments, condition, params, batch_size, nice_ratio
        )


@contextmanager
def _paced(nice_ratio: float) -> Iterator[None]:
    """Run one batch, then sleep nice_ratio times as long as it took.

    Each batch commits on its own, and its commit waits for its WAL (redo
    log) to reach the disk; so do the commits of the application's
    transactions meanwhile. The pause lets the server's disk catch up
    between batches (gh-ost's ``--nice-ratio``).
    """
    began = time.monotonic()
    yield
    if nice_ratio > 0:
        time.sleep((time.monotonic() - began) * nice_ratio)


def _update(
    connection: BaseDatabaseWrapper,
    table: str,
    pk_column: str,
    pk: models.Field[Any, Any],
    assignments: str,
    condition: str,
    params: Sequence[Any],
    batch_size: int,
    nice_ratio: float,
) -> int:
    """Run the batches of update_in_batches; return rows changed."""
    changed = 0
    if pk.get_internal_type() in INTEGER_KEY_TYPES:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MIN({pk_column}), MAX({pk_column}) FROM {table}")
            low, high = cursor.fetchone() or (None, None)
        if low is None or high is None:
            return 0
        sql = (
            f"UPDATE {table} SET {assignments} WHERE {pk_column} >= %s AND "
            f"{pk_column} < %s AND ({condition})"
        )
        for start in range(int(low), int(high) + 1, batch_size):
            with _paced(nice_ratio), connection.cursor() as cursor:
                cursor.execute(sql, [*params, start, start + batch_size])
                changed += max(cursor.rowcount, 0)
        return changed
    if connection.vendor == "mysql":
        sql = f"UPDATE {table} SET {assignments} WHERE {condition} LIMIT {int(batch_size)}"
    else:
        sql = (
            f"UPDATE {table} SET {assignments} WHERE {pk_column} IN ("
            f"SELECT {pk_column} FROM {table} WHERE {condition} LIMIT {int(batch_size)})"
        )
    while True:
        with _paced(nice_ratio), connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            rowcount = int(cursor.rowcount)
        changed += max(rowcount, 0)
        if rowcount < batch_size:
            return changed
