"""Lock timeouts for stage runs: wait briefly for a lock, give up, retry later.

A migration that queues for an exclusive lock stalls every query queued behind
it, and one that holds a lock while waiting for another can deadlock with the
application (the database then kills one of them, possibly the application's
query). A short lock timeout makes the migration the one that gives up; the
stage retries it with backoff.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from .session import read_setting, write_setting

# SQLSTATEs (PostgreSQL) and error numbers (MariaDB/MySQL) of lock waits
# given up on and of deadlocks: the statement failed and nothing of the
# transaction remains, so trying again is safe.
POSTGRESQL_LOCK_ERRORS = frozenset({"55P03", "40P01"})
MYSQL_LOCK_ERRORS = frozenset({1205, 1213})


@dataclass(frozen=True)
class LockPolicy:
    """How long a stage waits for a lock, and how often it tries again.

    ``timeout`` is in seconds (MariaDB/MySQL round it up to whole seconds);
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
    """Return whether a database error is a lock timeout or a deadlock."""
    if not isinstance(error, DatabaseError):
        return False
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate in POSTGRESQL_LOCK_ERRORS:
        return True
    args = getattr(cause, "args", None) or error.args
    return bool(args) and args[0] in MYSQL_LOCK_ERRORS


@contextmanager
def lock_timeout(connection: BaseDatabaseWrapper, seconds: float) -> Iterator[None]:
    """Set the connection's lock timeout for the block, then restore it.

    SQLite has no lock timeout to set (its busy timeout is a connection
    option): the block runs unchanged.
    """
    vendor = connection.vendor
    if vendor == "postgresql":
        settings = {"lock_timeout": f"{max(1, round(seconds * 1000))}ms"}
    elif vendor == "mysql":
        whole = str(max(1, math.ceil(seconds)))
        settings = {"lock_wait_timeout": whole, "innodb_lock_wait_timeout": whole}
    else:
        yield
        return
    previous = {name: read_setting(connection, name) for name in settings}
    for name, value in settings.items():
        write_setting(connection, name, value)
    try:
        yield
    finally:
        for name, value in previous.items():
            write_setting(connection, name, value)
