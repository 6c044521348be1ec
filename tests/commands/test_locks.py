"""Stage runs wait briefly for locks, give up, and retry with backoff.

Backend-specific by nature: SQLite has no lock timeout to set (its busy
timeout is a connection option), so these run on PostgreSQL and MariaDB.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management.base import CommandError
from django.db import OperationalError, connection

from green_makemigrations.locks import LockPolicy, lock_timeout

from .utils import (
    APP_LABEL,
    MigrationModule,
    applied,
    columns,
    migration_module,
    run,
    select,
)

needs_lock_timeout = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite has no lock timeout to set."
)


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = LockPolicy(timeout=0.5, retries=6, backoff=0.5, max_backoff=3)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def session_timeout() -> str:
    if connection.vendor == "postgresql":
        return str(select("SHOW lock_timeout")[0][0])
    return str(select("SELECT @@SESSION.lock_wait_timeout")[0][0])


@needs_lock_timeout
@pytest.mark.django_db
def test_lock_timeout_is_set_for_the_block_and_restored() -> None:
    before = session_timeout()
    with lock_timeout(connection, 0.25):
        inside = session_timeout()
    assert inside == ("250ms" if connection.vendor == "postgresql" else "1")
    assert session_timeout() == before


@contextmanager
def table_locked(table: str, seconds: float | None) -> Iterator[None]:
    """Hold a lock that blocks ALTER TABLE on table, released after seconds (or at exit)."""
    other = connection.copy()
    other.inc_thread_sharing()
    cursor = other.cursor()
    if connection.vendor == "postgresql":
        cursor.execute("BEGIN")
        cursor.execute(f"LOCK TABLE {table} IN ACCESS SHARE MODE")
    else:
        cursor.execute("START TRANSACTION")
        cursor.execute(f"SELECT * FROM {table}")  # holds a metadata lock
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


@needs_lock_timeout
@pytest.mark.django_db(transaction=True)
def test_stage_retries_until_the_lock_is_free(empty_testapp: None) -> None:
    with migration_module("initial", "two_drops") as module:
        drop = prepared_post_deploy(module)
        with table_locked("green_cmd_shelf", seconds=1.5):
            output = run(
                "migrate", APP_LABEL, stage="post-deploy", lock_timeout=0.2, lock_retries=8
            )
        assert f"testapp.{drop}: could not get a lock within 0.2 s" in output.stdout
        assert "retry 1 of 8" in output.stdout
        assert f"Applying testapp.{drop}... OK" in output.stdout
        assert drop in applied()
        assert "label" not in columns("green_cmd_shelf")


@needs_lock_timeout
@pytest.mark.django_db(transaction=True)
def test_stage_gives_up_cleanly_and_a_rerun_completes(empty_testapp: None) -> None:
    with migration_module("initial", "two_drops") as module:
        drop = prepared_post_deploy(module)
        with table_locked("green_cmd_shelf", seconds=None), pytest.raises(OperationalError):
            run("migrate", APP_LABEL, stage="post-deploy", lock_timeout=0.2, lock_retries=1)
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
