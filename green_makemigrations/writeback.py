"""Hand a backfill's page writes to the disk as it goes (PostgreSQL).

A batched backfill changes more pages than ``shared_buffers`` holds, so its
own server process writes dirty pages out to make room. The kernel keeps them
in its page cache and flushes them in bursts; while a burst of hundreds of
megabytes goes to the disk, every commit's WAL flush (``fdatasync``) waits
behind it, and so do the application's single-row writes (``IO:WALSync``).
PostgreSQL's ``backend_flush_after`` makes the process ask the kernel to
write its pages out every so many kilobytes instead, as the checkpointer
and background writer already do (``checkpoint_flush_after``,
``bgwriter_flush_after``). It is off (0) by default for client sessions;
any user may set it. Measured with ``benchmarks/bench_wal.py`` on a table
of 5,000,000 rows (WAL compressed in both): the longest write of the
application during the backfill fell from 50-59 ms to 24-30 ms, the backfill
took about as long.

``GREEN_MAKEMIGRATIONS['BACKFILL_FLUSH_AFTER']`` sets the amount (default
``"256kB"``, as ``checkpoint_flush_after``) or turns this off (``None``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper

from .backends import get_backend


@contextmanager
def flushed_writes(connection: BaseDatabaseWrapper, amount: str | None) -> Iterator[None]:
    """Set the session's backend_flush_after to amount for the block, then restore it.

    Does nothing on other databases, when amount is None, or when the
    session has a value of its own already.
    """
    if amount is None:
        yield
        return
    with get_backend(connection).flushed_writes(connection, amount):
        yield
