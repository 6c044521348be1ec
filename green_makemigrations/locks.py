"""Lock timeouts for stage runs: wait briefly for a lock, give up, retry later.

A migration that queues for an exclusive lock stalls every query queued behind
it, and one that holds a lock while waiting for another can deadlock with the
application (the database then kills one of them, possibly the application's
query). A short lock timeout makes the migration the one that gives up; the
stage retries it with backoff.

SQLite has one lock, the database's write lock, and a busy timeout instead
of a lock timeout. A transaction that reads before it writes (as migrations
do: the schema first) cannot wait for that lock once another connection
wrote meanwhile, and fails at once with "database is locked"; so the
migration's transactions take the write lock when they begin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from .backends import get_backend

# SQLSTATEs (PostgreSQL) and error numbers (MariaDB/MySQL) of lock waits
# given up on and of deadlocks: the statement failed and nothing of the
# transaction remains, so trying again is safe.
POSTGRESQL_LOCK_ERRORS = frozenset({"55P03", "40P01"})
MYSQL_LOCK_ERRORS = frozenset({1205, 1213})
# SQLite's primary result code of a busy database ("database is locked"),
# the low byte of its extended codes (SQLITE_BUSY_SNAPSHOT, ...).
SQLITE_BUSY = 5


@dataclass(frozen=True)
class LockPolicy:
    """How long a stage waits for a lock, and how often it tries again.

    ``timeout`` is in seconds (MariaDB/MySQL round it up to whole seconds,
    see applied_timeout());
    attempt ``n`` that times out waits ``backoff * 2 ** (n - 1)`` seconds,
    at most ``max_backoff``, before the next.
    """

    timeout: float = 0.5
    retries: int = 10
    backoff: float = 0.5
    max_backoff: float = 10.0

    def delay(self, attempt: int) -> float:
        """Return the pause after failed attempt number attempt (1-based)."""
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


def is_lock_error(error: BaseException) -> bool:
    """Return whether a database error is a lock timeout, a deadlock or SQLite's busy error."""
    if not isinstance(error, DatabaseError):
        return False
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate in POSTGRESQL_LOCK_ERRORS:
        return True
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(sqlite_code, int):
        return sqlite_code & 0xFF == SQLITE_BUSY
    args = getattr(cause, "args", None) or error.args
    return bool(args) and args[0] in MYSQL_LOCK_ERRORS


def applied_timeout(connection: BaseDatabaseWrapper, seconds: float) -> float:
    """Return the lock timeout, in seconds, that the database applies for seconds.

    MariaDB and MySQL count whole seconds (0.5 becomes 1); PostgreSQL's
    lock timeout and SQLite's busy timeout count milliseconds.
    """
    return get_backend(connection).applied_lock_timeout(seconds)


@contextmanager
def lock_timeout(connection: BaseDatabaseWrapper, seconds: float) -> Iterator[None]:
    """Set the connection's lock timeout for the block, then restore it.

    On SQLite that is the busy timeout: how long a statement waits for
    another connection's write lock.
    """
    backend = get_backend(connection)
    with backend.lock_timeout(connection, backend.applied_lock_timeout(seconds)):
        yield


@contextmanager
def write_lock_first(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Make the block's transactions on SQLite take the write lock when they begin.

    Django begins SQLite transactions with ``BEGIN`` unless the database's
    ``transaction_mode`` option says otherwise; such a transaction reads
    without the write lock, and when it then writes after another
    connection did, SQLite fails it at once instead of waiting. ``BEGIN
    IMMEDIATE`` waits for the write lock (up to the busy timeout) before the
    migration reads anything. A mode that already takes it (IMMEDIATE,
    EXCLUSIVE) is kept; the user's mode comes back after the block. Other
    databases run the block unchanged.
    """
    with get_backend(connection).write_lock_first(connection):
        yield
