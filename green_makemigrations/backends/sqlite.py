"""SQLite: mirror tables for views, ``AFTER`` triggers, the busy timeout, file locks.

SQLite has no identifier limit and no session settings; a migration's
transactions take the write lock when they begin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ..patching import swap_attribute
from .base import BaseBackend

# Transaction modes of Django's SQLite backend that take the write lock at BEGIN.
WRITE_MODES = frozenset({"IMMEDIATE", "EXCLUSIVE"})


class DatabaseBackend(BaseBackend):
    """The statements and facts of SQLite."""

    vendor = "sqlite"

    # -- lock timeouts ---------------------------------------------------------------

    def lock_timeout(self, connection: Any, seconds: float) -> AbstractContextManager[None]:
        """Return a context setting the busy timeout: how long a write waits for the lock."""
        return _busy_timeout(connection, round(seconds * 1000))

    @contextmanager
    def write_lock_first(self, connection: Any) -> Iterator[None]:
        """Begin the block's transactions with ``BEGIN IMMEDIATE`` (see locks.write_lock_first).

        A ``transaction_mode`` that takes the write lock already is kept.
        """
        # The backend reads transaction_mode from OPTIONS when it connects.
        connection.ensure_connection()
        if getattr(connection, "transaction_mode", None) in WRITE_MODES:
            yield
            return
        with swap_attribute(connection, "transaction_mode", "IMMEDIATE"):
            yield


@contextmanager
def _busy_timeout(connection: Any, milliseconds: int) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {previous}")
