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

import contextlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from .patching import swap_attribute
from .session import read_setting, write_setting

# SQLSTATEs (PostgreSQL) and error numbers (MariaDB/MySQL) of lock waits
# given up on and of deadlocks: the statement failed and nothing of the
# transaction remains, so trying again is safe.
POSTGRESQL_LOCK_ERRORS = frozenset({"55P03", "40P01"})
MYSQL_LOCK_ERRORS = frozenset({1205, 1213})
# SQLite's primary result code of a busy database ("database is locked"),
# the low byte of its extended codes (SQLITE_BUSY_SNAPSHOT, ...).
SQLITE_BUSY = 5
# Transaction modes of Django's SQLite backend that take the write lock at BEGIN.
SQLITE_WRITE_MODES = frozenset({"IMMEDIATE", "EXCLUSIVE"})


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
    if connection.vendor == "mysql":
        return float(max(1, math.ceil(seconds)))
    return max(1, round(seconds * 1000)) / 1000


@contextmanager
def lock_timeout(connection: BaseDatabaseWrapper, seconds: float) -> Iterator[None]:
    """Set the connection's lock timeout for the block, then restore it.

    On SQLite that is the busy timeout: how long a statement waits for
    another connection's write lock.
    """
    vendor = connection.vendor
    applied = applied_timeout(connection, seconds)
    if vendor == "postgresql":
        settings = {"lock_timeout": f"{round(applied * 1000)}ms"}
    elif vendor == "mysql":
        whole = str(int(applied))
        settings = {"lock_wait_timeout": whole, "innodb_lock_wait_timeout": whole}
    elif vendor == "sqlite":
        with _sqlite_busy_timeout(connection, round(applied * 1000)):
            yield
        return
    else:
        yield
        return
    previous = {name: read_setting(connection, name) for name in settings}
    for name, value in settings.items():
        write_setting(connection, name, value)
    try:
        yield
    except BaseException:
        # The block's error is the one to report. It may have aborted the
        # transaction, where PostgreSQL refuses every statement ("current
        # transaction is aborted"), the SET too; its rollback undoes our SET.
        with contextlib.suppress(DatabaseError):
            for name, value in previous.items():
                write_setting(connection, name, value)
        raise
    for name, value in previous.items():
        write_setting(connection, name, value)


@contextmanager
def _sqlite_busy_timeout(connection: BaseDatabaseWrapper, milliseconds: int) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {previous}")


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
    if connection.vendor != "sqlite":
        yield
        return
    # The backend reads transaction_mode from OPTIONS when it connects.
    connection.ensure_connection()
    if getattr(connection, "transaction_mode", None) in SQLITE_WRITE_MODES:
        yield
        return
    with swap_attribute(connection, "transaction_mode", "IMMEDIATE"):
        yield
