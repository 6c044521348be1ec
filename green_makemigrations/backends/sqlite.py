"""SQLite: mirror tables for views, ``AFTER`` triggers, the busy timeout, file locks.

SQLite has no identifier limit and no session settings; a migration's
transactions take the write lock when they begin. A view cannot stand in for
a table the old release writes, so the old name is a mirror table kept in
sync by triggers: mirror.py (SQLite only) builds it when views_are_mirrors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import IO, Any, ClassVar

from ..patching import swap_attribute
from .base import BaseBackend, RunLock

# Transaction modes of Django's SQLite backend that take the write lock at BEGIN.
WRITE_MODES = frozenset({"IMMEDIATE", "EXCLUSIVE"})
# The run lock's file: the database file's name and this.
RUN_LOCK_SUFFIX = ".green-migrate-lock"


class FileLock(RunLock):
    """An exclusive ``flock()`` of a file beside the database.

    Not SQLite's own write lock: holding it for the whole run would stop the
    running release's writes for as long. The holder removes the file when
    it is done; a run that locked a file someone removed meanwhile tries again.
    """

    def __init__(self, connection: Any) -> None:
        super().__init__(connection)
        name = os.path.abspath(str(connection.settings_dict["NAME"]))
        self.path = f"{name}{RUN_LOCK_SUFFIX}"
        self.file: IO[str] | None = None

    def try_acquire(self) -> bool:
        """Take the ``flock()`` of the lock file, not waiting."""
        import fcntl

        file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(file.fileno()).st_ino != os.stat(self.path).st_ino:
                raise BlockingIOError  # removed by the run that held it: not the lock now
        except (BlockingIOError, FileNotFoundError):
            file.close()
            return False
        file.truncate(0)
        file.write(f"{os.getpid()}\n")
        file.flush()
        self.file = file
        return True

    def holder(self) -> str:
        """Say which process holds the lock, as its file tells."""
        with suppress(OSError), open(self.path, encoding="utf-8") as file:
            pid = file.read().strip()
            if pid:
                return f"{self.path} locked by process {pid}"
        return f"{self.path} locked"

    def release(self) -> None:
        """Remove the lock file, then close it (which releases the ``flock()``)."""
        if self.file is not None:
            with suppress(FileNotFoundError):
                os.unlink(self.path)  # while still locked, so no run takes the old file
            self.file.close()  # closing the file releases the flock()
            self.file = None


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

    # -- the migrate run lock --------------------------------------------------------

    def run_lock(self, connection: Any, name: str) -> RunLock | None:
        """Return a ``flock()`` of a file beside the database, of the process.

        None for an in-memory database (one process only), or where there is
        no ``flock()``.
        """
        if connection.is_in_memory_db() or os.name != "posix":
            return None
        return FileLock(connection)

    # -- column syncs ----------------------------------------------------------------

    # Triggers cannot change the row being written: AFTER triggers update it
    # again by primary key, one on insert and one per column updated.
    sync_trigger_suffixes: ClassVar[tuple[str, ...]] = ("_i", "_t", "_s")

    def create_sync_triggers_sql(
        self, names: list[str], table: str, pk: str, source: str, target: str
    ) -> list[str]:
        """Return the ``AFTER INSERT`` and the two ``AFTER UPDATE OF`` triggers."""
        insert, target_changed, source_changed = names
        s, t = source, target
        return [
            f"CREATE TRIGGER {insert} AFTER INSERT ON {table} FOR EACH ROW BEGIN "
            f"UPDATE {table} SET {t} = COALESCE(NEW.{t}, NEW.{s}), "
            f"{s} = COALESCE(NEW.{t}, NEW.{s}) WHERE {pk} = NEW.{pk}; END",
            f"CREATE TRIGGER {target_changed} AFTER UPDATE OF {t} ON {table} FOR EACH ROW "
            f"WHEN NEW.{t} IS NOT OLD.{t} BEGIN "
            f"UPDATE {table} SET {s} = NEW.{t} WHERE {pk} = NEW.{pk}; END",
            f"CREATE TRIGGER {source_changed} AFTER UPDATE OF {s} ON {table} FOR EACH ROW "
            f"WHEN NEW.{s} IS NOT OLD.{s} AND NEW.{t} IS OLD.{t} BEGIN "
            f"UPDATE {table} SET {t} = NEW.{s} WHERE {pk} = NEW.{pk}; END",
        ]

    def sync_triggers_sql(self, table: str, names: list[str]) -> tuple[str, list[Any]]:
        """Return the query of ``sqlite_master``."""
        marks = ", ".join(["%s"] * len(names))
        return (
            f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",
            names,
        )

    def is_distinct_sql(self, first: str, second: str) -> str:
        """Return ``IS NOT``."""
        return f"{first} IS NOT {second}"

    # -- views under a renamed table's old names -------------------------------------

    views_are_mirrors: ClassVar[bool] = True

    # -- running migrations ----------------------------------------------------------

    schema_editor_disables_constraint_checks: ClassVar[bool] = True

    # -- what the database does with the rows and values it is given ----------------

    enforces_column_types: ClassVar[bool] = False
    database_is_a_file: ClassVar[bool] = True


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
