"""One ``migrate`` run at a time per database.

Two deploys started together (two pods, a retried CI job) must not both apply
the same migrations: that writes duplicate rows in ``django_migrations``, runs
a backfill twice and crashes the loser half-way. Every ``migrate`` run holds a
lock that every connection to the database sees, from before it reads what is
applied until it ends; a second run waits for it (bounded, and saying so),
then reads the applied migrations afresh and finds the work done.

The lock belongs to the session (PostgreSQL advisory lock, MariaDB/MySQL
``GET_LOCK()``) or to the process (an ``flock()`` of a file beside an SQLite
database), so a run that is killed releases it at once: nothing is left to
clean up by hand.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import IO

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from .exceptions import GreenMigrationsError

LOCK_NAME = "green_makemigrations.migrate"
# PostgreSQL: the two-key form of the advisory lock functions; advisory locks
# are per database already. Both halves are positive 32-bit numbers.
_DIGEST = hashlib.sha256(LOCK_NAME.encode()).digest()
ADVISORY_KEYS = (
    int.from_bytes(_DIGEST[:4], "big") & 0x7FFFFFFF,
    int.from_bytes(_DIGEST[4:8], "big") & 0x7FFFFFFF,
)
# How often a waiting run asks again.
POLL_SECONDS = 0.25
SQLITE_LOCK_SUFFIX = ".green-migrate-lock"


class RunLockTimeout(GreenMigrationsError):
    """Another migrate run held the database's run lock for longer than the wait allowed."""


class _Lock:
    """The run lock of one backend: try to take it, say who holds it, release it."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether it was taken."""
        raise NotImplementedError  # pragma: no cover

    def holder(self) -> str:
        """Describe the run that holds the lock, as far as the database tells."""
        raise NotImplementedError  # pragma: no cover

    def release(self) -> None:
        """Release the lock."""
        raise NotImplementedError  # pragma: no cover

    def _value(self, sql: str, params: list[int | str]) -> object:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else row[0]


class _PostgreSQLLock(_Lock):
    def try_acquire(self) -> bool:
        return bool(self._value("SELECT pg_try_advisory_lock(%s, %s)", list(ADVISORY_KEYS)))

    def holder(self) -> str:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.pid, a.application_name, a.client_addr, "
                "EXTRACT(EPOCH FROM now() - a.backend_start) "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
                "AND l.classid = %s::oid AND l.objid = %s::oid "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                list(ADVISORY_KEYS),
            )
            row = cursor.fetchone()
        if row is None:
            return "its holder has just released it"
        pid, application, address, seconds = row
        client = f" from {address}" if address else ""
        name = f" ({application})" if application else ""
        return (
            f"advisory lock held by server process {pid}{name}{client}, "
            f"connected {seconds:.0f} s ago"
        )

    def release(self) -> None:
        self._value("SELECT pg_advisory_unlock(%s, %s)", list(ADVISORY_KEYS))


class _MySQLLock(_Lock):
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        super().__init__(connection)
        # GET_LOCK() names are server-wide (64 characters at most): one per database.
        database = str(connection.settings_dict["NAME"])
        self.name = f"{LOCK_NAME}.{hashlib.sha256(database.encode()).hexdigest()[:32]}"

    def try_acquire(self) -> bool:
        return self._value("SELECT GET_LOCK(%s, 0)", [self.name]) == 1

    def holder(self) -> str:
        holder = self._value("SELECT IS_USED_LOCK(%s)", [self.name])
        if holder is None:
            return "its holder has just released it"
        return f"GET_LOCK('{self.name}') held by connection {holder}"

    def release(self) -> None:
        self._value("SELECT RELEASE_LOCK(%s)", [self.name])


class _SQLiteLock(_Lock):
    """An exclusive ``flock()`` of a file beside the database.

    Not SQLite's own write lock: holding it for the whole run would stop the
    running release's writes for as long. The holder removes the file when
    it is done; a run that locked a file someone removed meanwhile tries again.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        super().__init__(connection)
        name = os.path.abspath(str(connection.settings_dict["NAME"]))
        self.path = f"{name}{SQLITE_LOCK_SUFFIX}"
        self.file: IO[str] | None = None

    def try_acquire(self) -> bool:
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
        with suppress(OSError), open(self.path, encoding="utf-8") as file:
            pid = file.read().strip()
            if pid:
                return f"{self.path} locked by process {pid}"
        return f"{self.path} locked"

    def release(self) -> None:
        if self.file is not None:
            with suppress(FileNotFoundError):
                os.unlink(self.path)  # while still locked, so no run takes the old file
            self.file.close()  # closing the file releases the flock()
            self.file = None


def _lock_for(connection: BaseDatabaseWrapper) -> _Lock | None:
    """Return the run lock of connection's database, or None where none is needed."""
    vendor = connection.vendor
    if vendor == "postgresql":
        return _PostgreSQLLock(connection)
    if vendor == "mysql":
        return _MySQLLock(connection)
    if vendor == "sqlite":
        in_memory = connection.is_in_memory_db()  # type: ignore[attr-defined]
        if in_memory or os.name != "posix":
            return None  # one process only; or no flock() to use
        return _SQLiteLock(connection)
    return None


# Runs nested in one process (a migrate calling migrate) share the lock
# their outermost run took, on the same connection.
_held: dict[int, int] = {}


@contextmanager
def migrate_run_lock(
    connection: BaseDatabaseWrapper,
    wait: float,
    report: Callable[[str], None] = lambda message: None,
) -> Iterator[None]:
    """Hold the database's run lock for the block, waiting at most wait seconds for it.

    While another run holds it, report says so once (and who holds it),
    then again when it is free. Raise RunLockTimeout if it is still held
    after wait seconds; nothing has been read or changed then.
    """
    key = id(connection)
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    lock = _lock_for(connection)
    if lock is None:
        yield
        return
    _acquire(lock, connection.alias, wait, report)
    _held[key] = 1
    try:
        yield
    finally:
        del _held[key]
        # A connection that broke released a session lock with it.
        with suppress(DatabaseError):
            lock.release()


def _acquire(lock: _Lock, alias: str, wait: float, report: Callable[[str], None]) -> None:
    if lock.try_acquire():
        return
    began = time.monotonic()
    report(
        f"Another migrate run is in progress on database '{alias}' ({lock.holder()}). "
        f"Waiting up to {wait:g} s for it to finish..."
    )
    while True:
        waited = time.monotonic() - began
        if waited >= wait:
            raise RunLockTimeout(
                f"Another migrate run on database '{alias}' still holds the run lock after "
                f"{waited:.0f} s ({lock.holder()}). Nothing was changed. Let it finish, then "
                "run the same command again (it applies only what is still pending); or wait "
                "longer with --run-lock-timeout or GREEN_MAKEMIGRATIONS['RUN_LOCK_TIMEOUT']."
            )
        time.sleep(min(POLL_SECONDS, wait - waited))
        if lock.try_acquire():
            report(
                f"The other migrate run finished after {time.monotonic() - began:.1f} s; "
                "reading the applied migrations again."
            )
            return
