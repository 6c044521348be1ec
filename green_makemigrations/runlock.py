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

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from .backends import get_backend
from .backends.base import RunLock
from .backends.sqlite import RUN_LOCK_SUFFIX as SQLITE_LOCK_SUFFIX
from .exceptions import GreenMigrationsError

__all__ = ["LOCK_NAME", "SQLITE_LOCK_SUFFIX", "RunLockTimeout", "migrate_run_lock"]

# The lock's name: each backend makes its own lock of it (see backends/).
LOCK_NAME = "green_makemigrations.migrate"
# How often a waiting run asks again.
POLL_SECONDS = 0.25


class RunLockTimeout(GreenMigrationsError):
    """Another migrate run held the database's run lock for longer than the wait allowed."""


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
    lock = get_backend(connection).run_lock(connection, LOCK_NAME)
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


def _acquire(lock: RunLock, alias: str, wait: float, report: Callable[[str], None]) -> None:
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
