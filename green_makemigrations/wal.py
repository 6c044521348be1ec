"""Compressed WAL while an operation rewrites a whole table or builds an index (PostgreSQL).

A batched backfill writes a new version of every row of a table, and
``CREATE INDEX CONCURRENTLY`` every page of the index. Much of that WAL is
page images (the first change of each page after a checkpoint is logged as
the whole page), and each commit of the application waits until the WAL
written before it is on disk: the more WAL the operation writes, the longer
the application's commits wait (``IO:WALSync``). ``wal_compression``
compresses those page images: on a table of 5,000,000 rows an index build
wrote 62 MB of WAL instead of 137 MB, a backfill 13% less
(``benchmarks/bench_wal.py``).

The setting needs a superuser, or on PostgreSQL 15 and later ``GRANT SET ON
PARAMETER wal_compression TO <migration user>``; without that the server's
value is kept and nothing else changes. ``GREEN_MAKEMIGRATIONS
['WAL_COMPRESSION']`` picks the method (default ``"lz4"``, then ``"on"``
where the server was built without lz4) or turns this off (``None``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper

from .backends import get_backend


@contextmanager
def compressed_wal(connection: BaseDatabaseWrapper, method: str | None) -> Iterator[None]:
    """Compress the session's WAL with method for the block, then restore the setting.

    Does nothing on other databases, when method is None, when the session
    compresses already, or when the user may not change the setting.
    """
    if method is None:
        yield
        return
    with get_backend(connection).compressed_wal(connection, method):
        yield
