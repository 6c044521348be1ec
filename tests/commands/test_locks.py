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
from pathlib import Path

import pytest
from django.core.management.base import CommandError
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from green_makemigrations.exceptions import LockRetriesExhausted
from green_makemigrations.locks import (
    LockPolicy,
    applied_timeout,
    lock_timeout,
    write_lock_first,
)
from green_makemigrations.patching import swap_attribute

from .utils import (
    APP_LABEL,
    MigrationModule,
    applied,
    columns,
    execute,
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


# --- A retry resumes at the operation that timed out ---------------------------

# What the migration's RunPython did: each call, and the lock holders it started.
CALLS: list[str] = []
HOLDERS: list[BaseDatabaseWrapper] = []

RESUMABLE_MIGRATION = """\
from django.db import migrations, models

from tests.commands.test_locks import lock_shelf_on_first_call


class Migration(migrations.Migration):
    atomic = {atomic}

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "INSERT INTO green_cmd_shelf (name) VALUES ('first operation')", migrations.RunSQL.noop
        ),
        migrations.RunPython(lock_shelf_on_first_call, migrations.RunPython.noop),
        migrations.AddField("shelf", "label", models.CharField(max_length=50, null=True)),
    ]
"""


def lock_shelf_on_first_call(apps: object, schema_editor: object) -> None:
    """Have another connection lock green_cmd_shelf for a while, the first time only."""
    CALLS.append("called")
    if HOLDERS:
        return
    other = connection.copy()
    other.inc_thread_sharing()
    HOLDERS.append(other)
    hold_lock(other, "green_cmd_shelf")
    # Longer than the first try's wait (MariaDB's is a whole second).
    seconds = 2.5 if connection.vendor == "mysql" else 1.0
    threading.Timer(seconds, lambda: other.cursor().execute("ROLLBACK")).start()


@pytest.mark.parametrize("atomic", [False, True], ids=["non-atomic", "atomic"])
@pytest.mark.django_db(transaction=True)
def test_retry_resumes_at_the_operation_that_timed_out(
    empty_testapp: None, atomic: bool, tmp_path: Path
) -> None:
    """Committed operations are not done again; a rolled-back attempt starts over.

    Committed: every operation of a non-atomic migration, and on MariaDB (no
    transactional DDL) every operation, each in its own transaction.
    """
    if atomic and connection.vendor == "sqlite":
        pytest.skip("An atomic migration holds SQLite's write lock from its BEGIN on.")
    CALLS.clear()
    HOLDERS.clear()
    with migration_module("initial") as module:
        (module.path / "0002_resume.py").write_text(RESUMABLE_MIGRATION.format(atomic=atomic))
        try:
            output = run("migrate", APP_LABEL, stage="pre-deploy", lock_timeout=0.2, lock_retries=6)
        finally:
            for other in HOLDERS:
                other.close()
    assert f"testapp.0002_resume: could not get a lock within {shown_timeout(0.2)}" in (
        output.stdout
    )
    assert "Applying testapp.0002_resume... OK" in output.stdout
    assert "label" in columns("green_cmd_shelf")
    assert select("SELECT COUNT(*) FROM green_cmd_shelf WHERE name = 'first operation'") == [(1,)]
    committed = not atomic or not connection.features.can_rollback_ddl
    retries = output.stdout.count("; retry ")
    assert len(CALLS) == (1 if committed else 1 + retries)


@pytest.mark.parametrize("stage", [None, "pre-deploy"], ids=["plain", "pre-deploy"])
@pytest.mark.django_db(transaction=True)
def test_operations_wrapped_for_resuming_still_let_fake_initial_see_the_tables(
    empty_testapp: None, stage: str | None
) -> None:
    """--fake-initial looks at the migration's own operations, not at their wrappers."""
    with migration_module("initial"):
        run("migrate", APP_LABEL, verbosity=0)
        execute("DELETE FROM django_migrations WHERE app = %s", (APP_LABEL,))
        output = run("migrate", APP_LABEL, fake_initial=True, stage=stage)
    assert "Applying testapp.0001_initial... FAKED" in output.stdout
    assert applied() == {"0001_initial"}


# --- SQLite: the migration's transactions take the write lock first -------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's transaction modes")
@pytest.mark.parametrize("mode", [None, "DEFERRED", "IMMEDIATE", "EXCLUSIVE"])
@pytest.mark.django_db(transaction=True)
def test_sqlite_transaction_reading_first_waits_for_the_writer(
    empty_testapp: None, mode: str | None
) -> None:
    """Whatever transaction_mode says, a transaction that reads, then writes, waits.

    Without write_lock_first a DEFERRED transaction fails at once when
    another connection holds the write lock; the user's mode comes back.
    """
    connection.ensure_connection()
    execute("CREATE TABLE green_cmd_lockfirst (id integer)")

    def read_then_write() -> None:
        with transaction.atomic():
            select("SELECT COUNT(*) FROM green_cmd_lockfirst")
            execute("INSERT INTO green_cmd_lockfirst (id) VALUES (1)")

    with swap_attribute(connection, "transaction_mode", mode):
        if mode not in ("IMMEDIATE", "EXCLUSIVE"):
            with (
                table_locked("green_cmd_lockfirst", seconds=0.3),
                pytest.raises(OperationalError, match="database is locked"),
            ):
                read_then_write()
        with table_locked("green_cmd_lockfirst", seconds=0.3), write_lock_first(connection):
            assert connection.transaction_mode == (mode if mode == "EXCLUSIVE" else "IMMEDIATE")
            read_then_write()
        assert connection.transaction_mode == mode
    assert select("SELECT id FROM green_cmd_lockfirst") == [(1,)]


@pytest.mark.django_db(transaction=True)
def test_lock_timeout_lets_the_error_of_an_aborted_transaction_through() -> None:
    """The block's own error is raised, not the restore's, and the transaction is left."""
    with pytest.raises(DatabaseError) as error, transaction.atomic():
        with lock_timeout(connection, 5), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM green_no_such_table")
    assert "green_no_such_table" in str(error.value), error.value
    assert "current transaction is aborted" not in str(error.value)
    assert not connection.in_atomic_block
    with connection.cursor() as cursor:  # the connection works
        cursor.execute("SELECT 1")
