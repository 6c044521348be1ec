"""Update many rows of a live table in small batches, each its own transaction.

One ``UPDATE`` of every row holds the row locks of the whole table until it
commits, and a release that writes those rows waits that long. Here the rows
are updated ``batch_size`` at a time, walking the primary key in its own
order (keyset pagination): a ``SELECT`` reads where the next ``batch_size``
keys end, through the primary key index, and the ``UPDATE`` takes the rows
between the previous batch's last key and that one. The number of
statements follows the number of rows, whatever the type of the key
(integer, UUID, text) and however sparse its values. On PostgreSQL the
session compresses its WAL (see wal.py) and has its page writes flushed as
it goes (see writeback.py) meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import NotSupportedError, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from . import conf
from .backends import get_backend
from .wal import compressed_wal
from .writeback import flushed_writes

# Internal types of integer fields (m2m_columns.py picks column defaults by them).
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
    placeholders for params (used by assignments first, then condition).
    The walk ends at the greatest key present when it starts; rows inserted
    meanwhile after it, or behind the walk, are the caller's to cover (its
    triggers or defaults). The condition
    should be false for a row already updated, so that a run interrupted
    and started again skips the rows done. Under ``sqlmigrate`` the
    statement is shown once, without batching.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size!r}.")
    connection = schema_editor.connection
    quote = schema_editor.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    assert pk is not None  # concrete models have one
    if pk.column is None:
        raise NotSupportedError(
            f"Cannot update {model._meta.label} (table {model._meta.db_table}) in batches: "
            "its primary key is composite (CompositePrimaryKey) and the batched backfill "
            "walks a single key column. Fill the column in a data migration of your own, "
            "or make this change with makemigrations --stock in a maintenance window."
        )
    pk_column = quote(pk.column)
    if schema_editor.collect_sql:
        schema_editor.execute(
            get_backend(connection).update_sql(table, assignments, condition), params
        )
        return 0
    nice_ratio = conf.backfill_nice_ratio()
    with (
        compressed_wal(connection, conf.wal_compression()),
        flushed_writes(connection, conf.backfill_flush_after()),
    ):
        return _update(
            connection, table, pk_column, assignments, condition, params, batch_size, nice_ratio
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
    assignments: str,
    condition: str,
    params: Sequence[Any],
    batch_size: int,
    nice_ratio: float,
) -> int:
    """Run the batches of update_in_batches; return rows changed.

    The keys are compared and ordered by the database alone (its collation
    for text keys), never in Python, so that the walk and the index agree.
    Each SELECT finds a key strictly after the previous batch's last one, or
    none, which ends the walk: it ends even if rows come and go meanwhile.
    """
    backend = get_backend(connection)
    first_sql, last_sql = backend.key_bounds_sql(table, pk_column)
    with connection.cursor() as cursor:
        cursor.execute(first_sql)
        first = cursor.fetchone()
        cursor.execute(last_sql)
        last = cursor.fetchone()
    if first is None or last is None:
        return 0
    end = last[0]
    changed, low, after = 0, first[0], ">="  # the first batch includes the first key
    while True:
        with connection.cursor() as cursor:
            cursor.execute(backend.batch_end_sql(table, pk_column, after, batch_size), [low, end])
            found = cursor.fetchone()
        # Without batch_size more keys before the end, this batch is the last.
        high = end if found is None else found[0]
        with _paced(nice_ratio), connection.cursor() as cursor:
            cursor.execute(
                backend.batch_update_sql(table, assignments, condition, pk_column, after),
                [*params, low, high],
            )
            changed += max(int(cursor.rowcount), 0)
        if found is None or high == end:
            return changed
        low, after = high, ">"
