"""Stage runs wait briefly for locks, give up, and retry with backoff.

On every backend, with a real lock holder (a second connection): PostgreSQL
and MariaDB's lock timeouts, SQLite's busy timeout and write lock. SQLite runs
with Django's default settings (transactions begin DEFERRED).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

from green_makemigrations.exceptions import LockRetriesExhausted
from green_makemigrations.locks import LockPolicy, applied_timeout, lock_timeout

from .utils import (
    APP_LABEL,
    MigrationModule,
    applied,
    columns,
    migration_module,
    run,
    select,
)


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = LockPolicy(timeout=0.5, retries=6, backoff=0.5, max_backoff=3)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def session_timeout() -> float:
    """Return the lock timeout the session applies, in seconds."""
    if connection.vendor == "postgresql":
        text = str(select("SHOW lock_timeout")[0][0])  # 250ms, 1s, 2500ms
        if text.endswith("ms"):
            return float(text.removesuffix("ms")) / 1000
        return float(text.removesuffix("s"))
    if connection.vendor == "sqlite":
        return float(select("PRAGMA busy_timeout")[0][0]) / 1000
    return float(select("SELECT @@SESSION.lock_wait_timeout")[0][0])


TIMEOUTS = [0.001, 0.2, 0.25, 0.5, 0.9994, 1.0, 1.2, 2.5]


@pytest.mark.parametrize("seconds", TIMEOUTS)
@pytest.mark.django_db
def test_lock_timeout_is_set_for_the_block_and_restored(seconds: float) -> None:
    """The session applies applied_timeout(): whole seconds on MariaDB, else milliseconds."""
    before = session_timeout()
    with lock_timeout(connection, seconds):
        inside = session_timeout()
    expected = (
        max(1, math.ceil(seconds))
        if connection.vendor == "mysql"
        else max(1, round(seconds * 1000)) / 1000
    )
    assert inside == expected == applied_timeout(connection, seconds)
    assert session_timeout() == before


def hold_lock(other: BaseDatabaseWrapper, table: str) -> None:
    """Take, on connection other, a lock that blocks ALTER TABLE on table."""
    cursor = other.cursor()
    if connection.vendor == "postgresql":
        cursor.execute("BEGIN")
        cursor.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
    elif connection.vendor == "sqlite":
        # The write lock: another connection writing, as an application does.
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(f"UPDATE {table} SET id = id WHERE id < 0")
    else:
        cursor.execute("START TRANSACTION")
        cursor.execute(f"SELECT * FROM {table}")  # holds a metadata lock
    cursor.close()


@contextmanager
def table_locked(table: str, seconds: float | None) -> Iterator[None]:
    """Hold a lock that blocks ALTER TABLE on table, released after seconds (or at exit)."""
    other = connection.copy()
    other.inc_thread_sharing()
    hold_lock(other, table)
    cursor = other.cursor()
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            cursor.execute("ROLLBACK")

    timer = threading.Timer(seconds, release) if seconds is not None else None
    if timer:
        timer.start()
    try:
        yield
    finally:
        if timer:
            timer.cancel()
            timer.join()
        release()
        cursor.close()
        other.close()


def prepared_post_deploy(module: MigrationModule) -> str:
    """Apply the pre-deploy stage of two drops and return the post-deploy migration."""
    run("migrate", APP_LABEL, verbosity=0)
    run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
    run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)
    [drop] = [name for name in module.files() if name not in applied()]
    return drop


def shown_timeout(seconds: float) -> str:
    """Return how messages write the lock timeout the database applies for seconds."""
    return f"{applied_timeout(connection, seconds):g} s"


@pytest.mark.django_db(transaction=True)
def test_stage_retries_until_the_lock_is_free(empty_testapp: None) -> None:
    with migration_module("initial", "two_drops") as module:
        drop = prepared_post_deploy(module)
        with table_locked("green_cmd_shelf", seconds=1.5):
            output = run(
                "migrate", APP_LABEL, stage="post-deploy", lock_timeout=0.2, lock_retries=8
            )
        assert f"testapp.{drop}: could not get a lock within {shown_timeout(0.2)}" in (
            output.stdout
        )
        assert "retry 1 of 8" in output.stdout
        assert f"Applying testapp.{drop}... OK" in output.stdout
        assert drop in applied()
        assert "label" not in columns("green_cmd_shelf")


@pytest.mark.django_db(transaction=True)
def test_stage_gives_up_cleanly_and_a_rerun_completes(empty_testapp: None) -> None:
    with migration_module("initial", "two_drops") as module:
        drop = prepared_post_deploy(module)
        with (
            table_locked("green_cmd_shelf", seconds=None),
            pytest.raises(CommandError) as raised,
        ):
            run("migrate", APP_LABEL, stage="post-deploy", lock_timeout=0.2, lock_retries=1)
        # One line: the migration, the operation, the lock wait, the tries, what to do.
        message = str(raised.value)
        assert isinstance(raised.value.__cause__, LockRetriesExhausted)
        assert "\n" not in message
        assert message.startswith(f"testapp.{drop}: ")
        if connection.vendor == "sqlite":
            # The write lock is taken when the migration's transaction begins.
            assert "beginning its transaction, before operation 1 (Remove field isbn" in message
        else:
            assert "operation 2 (Remove field label from shelf)" in message
        assert f"could not get a lock within {shown_timeout(0.2)} on any of 2 tries (" in message
        assert message.endswith("); run the same command again to continue.")
        assert drop not in applied()
        assert "label" in columns("green_cmd_shelf")
        # Nothing is locked any more: the same command finishes the stage.
        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert drop in applied()
        assert "label" not in columns("green_cmd_shelf")


@pytest.mark.django_db(transaction=True)
def test_invalid_lock_options_are_refused(empty_testapp: None) -> None:
    with pytest.raises(CommandError, match="lock timeout .* above 0"):
        run("migrate", APP_LABEL, stage="pre-deploy", lock_timeout=0)
    with pytest.raises(CommandError, match="lock retries .* 0 or more"):
        run("migrate", APP_LABEL, stage="pre-deploy", lock_retries=-1)
