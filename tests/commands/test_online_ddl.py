"""Indexes and check constraints of existing tables, built without blocking writes.

The online DDL app (tests/commands/online_ddl_app/) is the new release: Ledger
declares an index on ``account`` and a check on ``amount``. The previous
release is the fixture history tests/commands/migrations/online_ddl/ (Ledger
without them), optionally followed by online_ddl_dropped_index/ (an index on
``amount`` the new release drops). makemigrations writes a pre-deploy
migration of AddIndexConcurrently / RemoveIndexConcurrently /
AddCheckConstraintNotValid with ``atomic = False``; the tests apply it, roll
it back, re-run it, and on PostgreSQL check what CONCURRENTLY and NOT VALID
buy: leftovers of failed runs are finished, and writers are not blocked.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.db import IntegrityError, NotSupportedError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

from green_makemigrations.constants import Stage
from green_makemigrations.operations import (
    AddCheckConstraintNotValid,
    AddIndexConcurrently,
    RemoveIndexConcurrently,
)

from .utils import MigrationModule, execute, migration_module, run, select, tables

pytestmark = pytest.mark.django_db(transaction=True)

APP = "green_ddl"
TABLE = "green_ddl_ledger"
INITIAL = "0001_initial"
DROPPED = "0002_ledger_amount_idx"
# Names declared by online_ddl_app.models (not importable before the app is installed).
ACCOUNT_INDEX = "green_ddl_account_idx"
AMOUNT_CHECK = "green_ddl_amount_gte_0"
# The previous release's index that the new release drops.
AMOUNT_INDEX = "green_ddl_amount_idx"
ALL_FIXTURES = ("online_ddl", "online_ddl_dropped_index")
OPERATIONS = {
    "AddIndexConcurrently": AddIndexConcurrently,
    "RemoveIndexConcurrently": RemoveIndexConcurrently,
    "AddCheckConstraintNotValid": AddCheckConstraintNotValid,
}
IN_TRANSACTION = "this step cannot run inside a transaction on PostgreSQL"

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL behaviour: CREATE INDEX CONCURRENTLY, NOT VALID constraints, "
    "INVALID indexes and lock queues exist only there",
)


def drop_schema() -> None:
    """Drop the app's tables and forget its applied migrations."""
    quote = connection.ops.quote_name
    cascade = " CASCADE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        for table in sorted(t for t in tables() if t.startswith(f"{APP}_")):
            cursor.execute(f"DROP TABLE IF EXISTS {quote(table)}{cascade}")
    MigrationRecorder(connection).migration_qs.filter(app=APP).delete()


@pytest.fixture
def online_ddl_app(transactional_db: None) -> Iterator[None]:
    """Install the online DDL app, without tables or applied migrations."""
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.commands.online_ddl_app"]
    ):
        drop_schema()
        yield
        drop_schema()


def applied() -> set[str]:
    recorder = MigrationRecorder(connection)
    return {name for app_label, name in recorder.applied_migrations() if app_label == APP}


def constraints() -> dict[str, dict[str, Any]]:
    """Return the introspected constraints and indexes of the Ledger table."""
    with connection.cursor() as cursor:
        return dict(connection.introspection.get_constraints(cursor, TABLE))


def assert_new_release_schema() -> None:
    """The account index and the amount check exist; the amount index is gone."""
    found = constraints()
    assert found[ACCOUNT_INDEX]["index"] is True, found
    assert found[ACCOUNT_INDEX]["columns"] == ["account"]
    assert not found[ACCOUNT_INDEX]["unique"]
    assert found[AMOUNT_CHECK]["check"] is True, found
    assert AMOUNT_INDEX not in found


def assert_previous_release_schema(with_amount_index: bool) -> None:
    found = constraints()
    assert ACCOUNT_INDEX not in found, found
    assert AMOUNT_CHECK not in found, found
    assert (AMOUNT_INDEX in found) is with_amount_index, found
    if with_amount_index:
        assert found[AMOUNT_INDEX]["columns"] == ["amount"]


def insert(account: str, amount: int) -> None:
    execute(f"INSERT INTO {TABLE} (account, amount) VALUES (%s, %s)", (account, amount))


def make_online_migration(module: MigrationModule, previous: str) -> str:
    """Run makemigrations; return the one pre-deploy migration it wrote."""
    before = set(module.files())
    run("makemigrations", APP, interactive=False, verbosity=0)
    new = sorted(set(module.files()) - before)
    assert len(new) == 1, new
    migration = module.load(new[0]).Migration
    assert migration.stage is Stage.PRE_DEPLOY
    assert migration.dependencies == [(APP, previous)]
    return new[0]


def loaded_operations(name: str) -> list[Operation]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return list(loader.get_migration(APP, name).operations)


# -- every backend ---------------------------------------------------------------


def test_makemigrations_writes_online_operations_non_atomic(online_ddl_app: None) -> None:
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        name = make_online_migration(module, DROPPED)
        text = module.read(name)
        assert "import green_makemigrations.operations\n" in text
        assert "    atomic = False\n" in text
        assert "    stage = Stage.PRE_DEPLOY\n" in text
        for operation_name in OPERATIONS:
            assert text.count(f"green_makemigrations.operations.{operation_name}(") == 1
        assert "migrations.AddIndex(" not in text
        assert "migrations.RemoveIndex(" not in text
        assert "migrations.AddConstraint(" not in text
        assert module.load(name).Migration.atomic is False
        by_type = {type(op).__name__: op for op in loaded_operations(name)}
        assert set(by_type) == set(OPERATIONS)
        assert by_type["AddIndexConcurrently"].index.name == ACCOUNT_INDEX
        assert by_type["RemoveIndexConcurrently"].name == AMOUNT_INDEX
        assert by_type["AddCheckConstraintNotValid"].constraint.name == AMOUNT_CHECK
        check = run("makemigrations", APP, check_changes=True)
        assert f"No changes detected in app '{APP}'" in check.stdout


def test_pre_deploy_builds_them_and_rollback_drops_them(online_ddl_app: None) -> None:
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        assert_previous_release_schema(with_amount_index=True)
        insert("a", 1)
        insert("b", 0)
        name = make_online_migration(module, DROPPED)

        output = run("migrate", APP, stage="pre-deploy")
        assert f"Applying {APP}.{name}... OK" in output.stdout
        assert applied() == {INITIAL, DROPPED, name}
        assert_new_release_schema()
        insert("c", 5)
        with pytest.raises(IntegrityError), transaction.atomic():
            insert("d", -1)
        assert select(f"SELECT account FROM {TABLE} ORDER BY account") == [("a",), ("b",), ("c",)]

        # Running the operations again (a re-run after a failure that came
        # before the migration was recorded) changes nothing and fails nothing.
        MigrationRecorder(connection).record_unapplied(APP, name)
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert applied() == {INITIAL, DROPPED, name}
        assert_new_release_schema()

        # Rolling back: the pre-deploy migration is undone by the rollback's
        # post-deploy stage.
        output = run("migrate", APP, DROPPED, stage="post-deploy")
        assert f"Unapplying {APP}.{name}... OK" in output.stdout
        assert applied() == {INITIAL, DROPPED}
        assert_previous_release_schema(with_amount_index=True)
        insert("e", -1)  # the check is gone
        assert select(f"SELECT COUNT(*) FROM {TABLE}") == [(4,)]


def test_forwards_finish_a_half_done_run(online_ddl_app: None) -> None:
    """A failed run left the new index built and the old one dropped: the re-run completes."""
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        name = make_online_migration(module, DROPPED)
        quote = connection.ops.quote_name
        execute(f"CREATE INDEX {quote(ACCOUNT_INDEX)} ON {quote(TABLE)} (account)")
        if connection.vendor == "mysql":
            execute(f"DROP INDEX {quote(AMOUNT_INDEX)} ON {quote(TABLE)}")
        else:
            execute(f"DROP INDEX {quote(AMOUNT_INDEX)}")
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert applied() == {INITIAL, DROPPED, name}
        assert_new_release_schema()


def test_backwards_finish_a_half_done_rollback(online_ddl_app: None) -> None:
    """A failed rollback dropped the check already: the re-run completes.

    Passes on SQLite (Django rebuilds the table from the model state) and
    MariaDB (Django drops checks there with IF EXISTS).
    """
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        make_online_migration(module, DROPPED)
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        if connection.vendor != "sqlite":
            quote = connection.ops.quote_name
            execute(f"ALTER TABLE {quote(TABLE)} DROP CONSTRAINT {quote(AMOUNT_CHECK)}")
            assert AMOUNT_CHECK not in constraints()
        run("migrate", APP, DROPPED, stage="post-deploy", verbosity=0)
        assert applied() == {INITIAL, DROPPED}
        assert_previous_release_schema(with_amount_index=True)


def test_new_index_and_check_only(online_ddl_app: None) -> None:
    """Without the dropped index: the two additions, applied and rolled back."""
    with migration_module("online_ddl", app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        insert("a", 1)
        name = make_online_migration(module, INITIAL)
        assert [type(op) for op in loaded_operations(name)] == [
            AddIndexConcurrently,
            AddCheckConstraintNotValid,
        ]
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert_new_release_schema()
        run("migrate", APP, INITIAL, stage="post-deploy", verbosity=0)
        assert_previous_release_schema(with_amount_index=False)
        assert applied() == {INITIAL}


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite behaviour: it alters a table by rebuilding it (new table, copy, drop, "
    "rename), which only a transaction hides from other connections",
)
def test_sqlite_table_rebuilds_stay_in_a_transaction(
    online_ddl_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor_class = connection.SchemaEditorClass
    remake_table = editor_class._remake_table
    in_transaction: list[tuple[str, bool]] = []

    def watched_remake_table(self: Any, model: Any, *args: Any, **kwargs: Any) -> None:
        in_transaction.append((model._meta.db_table, self.connection.in_atomic_block))
        remake_table(self, model, *args, **kwargs)

    monkeypatch.setattr(editor_class, "_remake_table", watched_remake_table)
    with migration_module("online_ddl", app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        make_online_migration(module, INITIAL)
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert_new_release_schema()
    assert in_transaction == [(TABLE, True)]


def assert_shows_forwards_sql(sql: str) -> None:
    """Assert sqlmigrate's output holds the statements of the three operations."""
    lines = sql.splitlines()
    assert "(no-op)" not in sql, sql
    assert any(line.startswith("DROP INDEX") and AMOUNT_INDEX in line for line in lines), sql
    assert any(line.startswith("CREATE INDEX") and ACCOUNT_INDEX in line for line in lines), sql
    assert any("CHECK" in line and AMOUNT_CHECK in line for line in lines), sql


def test_sqlmigrate_on_a_fresh_database_shows_every_statement(online_ddl_app: None) -> None:
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        name = make_online_migration(module, DROPPED)
        output = run("sqlmigrate", APP, name)
        assert_shows_forwards_sql(output.stdout)


def test_sqlmigrate_of_an_applied_migration_shows_its_sql(online_ddl_app: None) -> None:
    """Django's sqlmigrate prints a migration's SQL whatever the database holds."""
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        name = make_online_migration(module, DROPPED)
        run("migrate", APP, verbosity=0)
        output = run("sqlmigrate", APP, name)
        assert_shows_forwards_sql(output.stdout)


def test_sqlmigrate_before_the_migration_shows_every_statement(online_ddl_app: None) -> None:
    """The usual review: the previous release is migrated, the new migration is not."""
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        name = make_online_migration(module, DROPPED)
        run("migrate", APP, DROPPED, verbosity=0)
        output = run("sqlmigrate", APP, name)
        assert_shows_forwards_sql(output.stdout)
        if connection.vendor == "postgresql":
            assert "CREATE INDEX CONCURRENTLY" in output.stdout
            assert "DROP INDEX CONCURRENTLY IF EXISTS" in output.stdout
            assert 'CHECK ("amount" >= 0) NOT VALID;' in output.stdout
            assert f'VALIDATE CONSTRAINT "{AMOUNT_CHECK}"' in output.stdout
        assert applied() == {INITIAL, DROPPED}
        assert_previous_release_schema(with_amount_index=True)


# -- PostgreSQL ------------------------------------------------------------------


def index_flags(name: str) -> tuple[bool, bool] | None:
    """Return (indisvalid, indisunique) of an index, or None if there is none."""
    rows = select(
        "SELECT i.indisvalid, i.indisunique FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
        (name,),
    )
    return None if not rows else (bool(rows[0][0]), bool(rows[0][1]))


def constraint_validated(name: str) -> bool | None:
    rows = select("SELECT convalidated FROM pg_constraint WHERE conname = %s", (name,))
    return None if not rows else bool(rows[0][0])


@postgresql_only
def test_invalid_leftover_index_is_rebuilt(online_ddl_app: None) -> None:
    """A failed CREATE INDEX CONCURRENTLY left an INVALID index of that name behind."""
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        insert("same", 1)
        insert("same", 2)
        with pytest.raises(IntegrityError):
            execute(f"CREATE UNIQUE INDEX CONCURRENTLY {ACCOUNT_INDEX} ON {TABLE} (account)")
        assert index_flags(ACCOUNT_INDEX) == (False, True)  # INVALID, unique

        name = make_online_migration(module, DROPPED)
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert applied() == {INITIAL, DROPPED, name}
        assert index_flags(ACCOUNT_INDEX) == (True, False)  # valid, as declared
        assert_new_release_schema()


@postgresql_only
def test_refused_inside_an_atomic_migration(online_ddl_app: None) -> None:
    """A hand-edited migration without ``atomic = False`` fails before doing anything."""
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        name = make_online_migration(module, DROPPED)
        path = module.path / f"{name}.py"
        text = path.read_text()
        assert "    atomic = False\n" in text
        path.write_text(text.replace("    atomic = False\n", ""))
        # Forget the version makemigrations' check imported.
        sys.modules.pop(f"{module.name}.{name}", None)
        shutil.rmtree(module.path / "__pycache__", ignore_errors=True)
        assert module.load(name).Migration.atomic is True
        first = loaded_operations(name)[0]
        with pytest.raises(CommandError) as error:
            run("migrate", APP, stage="pre-deploy", verbosity=0)
        message = str(error.value)
        prefix = f"{APP}.{name}: operation 1 ({first.describe()}): {IN_TRANSACTION}."
        assert message.startswith(prefix), message
        assert "Write `atomic = False` in the migration's class" in message
        assert applied() == {INITIAL, DROPPED}
        assert_previous_release_schema(with_amount_index=True)


@postgresql_only
@pytest.mark.parametrize("backwards", [False, True], ids=["forwards", "backwards"])
def test_refused_inside_transaction_atomic(online_ddl_app: None, backwards: bool) -> None:
    with migration_module(*ALL_FIXTURES, app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        name = make_online_migration(module, DROPPED)
        loader = MigrationLoader(None, ignore_no_migrations=True)
        state = loader.project_state((APP, DROPPED), at_end=True)
        refused = []
        for operation in loaded_operations(name):
            if backwards and isinstance(operation, AddCheckConstraintNotValid):
                continue  # dropping a constraint is Django's, fine in a transaction
            after = state.clone()
            operation.state_forwards(APP, after)
            states = (after, state) if backwards else (state, after)
            method = operation.database_backwards if backwards else operation.database_forwards
            with pytest.raises(NotSupportedError) as error, transaction.atomic():
                with connection.schema_editor(atomic=False) as editor:
                    method(APP, editor, *states)
            assert str(error.value).startswith(f"{operation.describe()}: {IN_TRANSACTION}.")
            refused.append(type(operation))
        assert len(refused) == (2 if backwards else 3)
        assert_previous_release_schema(with_amount_index=True)


@postgresql_only
def test_not_valid_check_left_behind_is_validated(online_ddl_app: None) -> None:
    with migration_module("online_ddl", app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        insert("a", 1)
        execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {AMOUNT_CHECK} CHECK (amount >= 0) NOT VALID")
        assert constraint_validated(AMOUNT_CHECK) is False
        make_online_migration(module, INITIAL)
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert constraint_validated(AMOUNT_CHECK) is True
        assert_new_release_schema()


@postgresql_only
def test_failed_validation_is_finished_by_a_re_run(online_ddl_app: None) -> None:
    """Rows that break the check fail VALIDATE; the NOT VALID check still guards writes."""
    with migration_module("online_ddl", app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        insert("bad", -5)
        name = make_online_migration(module, INITIAL)
        with pytest.raises(CommandError, match="is violated by some row"):
            run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert applied() == {INITIAL}
        # Not atomic: the index is built, the check added NOT VALID.
        assert index_flags(ACCOUNT_INDEX) == (True, False)
        assert constraint_validated(AMOUNT_CHECK) is False
        with pytest.raises(IntegrityError), transaction.atomic():
            insert("new", -1)

        execute(f"UPDATE {TABLE} SET amount = 0 WHERE amount < 0")
        run("migrate", APP, stage="pre-deploy", verbosity=0)
        assert applied() == {INITIAL, name}
        assert constraint_validated(AMOUNT_CHECK) is True
        assert_new_release_schema()


class Session:
    """A raw PostgreSQL connection outside Django's, usable from any thread."""

    def __init__(self) -> None:
        self.raw = connection.get_new_connection(connection.get_connection_params())
        self.raw.autocommit = True

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.raw.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []


class Background(threading.Thread):
    """Run a callable in a thread; keep its exception; close the thread's connection."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.target()
        except BaseException as error:  # re-raised by finish()
            self.error = error
        finally:
            connection.close()

    def finish(self) -> None:
        self.join(timeout=60)
        assert not self.is_alive(), "the background statement did not finish"
        if self.error is not None:
            raise self.error


@contextmanager
def sessions() -> Iterator[Callable[[], Session]]:
    """Yield a Session factory; close every session (ending its transaction) afterwards.

    Closing also releases whatever a failed test left waiting on them, so no
    connection outlives the test and the test database can be dropped.
    """
    opened: list[Session] = []

    def open_session() -> Session:
        opened.append(Session())
        return opened[-1]

    try:
        yield open_session
    finally:
        for session in opened:
            session.raw.close()


def wait_for_activity(
    query_prefix: str, waiting: bool = True, session: Session | None = None, timeout: float = 20.0
) -> None:
    """Wait until a backend runs a statement starting with query_prefix.

    With ``waiting``, until it waits on a lock. ``session`` is the connection
    to look from (the test thread's Django connection by default).
    """
    sql = (
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE %s AND pid <> pg_backend_pid()"
    )
    if waiting:
        sql += " AND wait_event_type = 'Lock'"
    params = (f"{query_prefix}%",)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session.execute(sql, params) if session else select(sql, params):
            return
        time.sleep(0.02)
    raise AssertionError(f"no backend {'waits on a lock ' if waiting else ''}in {query_prefix!r}")


def timed_insert(session: Session, account: str) -> float:
    """INSERT a row from session; return how long it took."""
    started = time.monotonic()
    session.execute(f"INSERT INTO {TABLE} (account, amount) VALUES (%s, 1)", (account,))
    return time.monotonic() - started


def hold_write_transaction(session: Session, account: str) -> None:
    """Leave a transaction open in session that wrote to the table (ROW EXCLUSIVE lock)."""
    session.execute("BEGIN")
    session.execute(f"INSERT INTO {TABLE} (account, amount) VALUES (%s, 1)", (account,))


@postgresql_only
def test_writes_go_on_while_the_index_is_built(online_ddl_app: None) -> None:
    """The index build does not queue writers behind it; a plain CREATE INDEX does.

    An open transaction that wrote to the table (the previous release, mid
    request) makes both kinds of CREATE INDEX wait for it. A plain CREATE
    INDEX waits for a SHARE lock, and every INSERT queues behind it until
    that transaction ends; CREATE INDEX CONCURRENTLY holds only SHARE UPDATE
    EXCLUSIVE, which INSERTs do not conflict with, so they go on. The tests
    watch pg_stat_activity for the wait, so nothing depends on how long a
    build takes.
    """
    with migration_module("online_ddl", app_label=APP) as module, sessions() as session:
        run("migrate", APP, verbosity=0)
        execute(
            f"INSERT INTO {TABLE} (account, amount) "
            "SELECT 'acct' || g, 1 FROM generate_series(1, 20000) AS g"
        )
        make_online_migration(module, INITIAL)
        old, writer = session(), session()
        writer.execute("SET lock_timeout = '2s'")
        hold_write_transaction(old, "old")
        migrate = Background(
            lambda: run("migrate", APP, stage="pre-deploy", lock_timeout=30, verbosity=0)
        )
        migrate.start()
        try:
            wait_for_activity("CREATE INDEX CONCURRENTLY")
            durations = [timed_insert(writer, f"during-{n}") for n in range(5)]
            # The build was still under way during those inserts.
            assert index_flags(ACCOUNT_INDEX) == (False, False)
        finally:
            old.execute("COMMIT")
            migrate.finish()
        assert max(durations) < 0.5, durations
        assert index_flags(ACCOUNT_INDEX) == (True, False)
        assert_new_release_schema()
        assert select(f"SELECT COUNT(*) FROM {TABLE} WHERE account LIKE 'during-%%'") == [(5,)]

        # The same with a plain CREATE INDEX: the INSERT queues, and gives up.
        builder = session()
        hold_write_transaction(old, "old-2")
        plain = Background(
            lambda: builder.execute(f"CREATE INDEX green_ddl_plain_idx ON {TABLE} (amount)")
        )
        plain.start()
        try:
            wait_for_activity("CREATE INDEX green_ddl_plain_idx")
            writer.execute("SET lock_timeout = '300ms'")
            with pytest.raises(connection.Database.Error) as error:
                timed_insert(writer, "blocked")
            assert error.value.sqlstate == "55P03", error.value  # lock_not_available
        finally:
            old.execute("COMMIT")
            plain.finish()
        assert index_flags("green_ddl_plain_idx") == (True, False)


@postgresql_only
def test_lock_timeouts_are_retried_and_leftovers_cleaned(online_ddl_app: None) -> None:
    """With the stage's short lock timeout, an open transaction makes the build give up.

    The timed-out CREATE INDEX CONCURRENTLY leaves an INVALID index; the
    retry drops it (DROP INDEX CONCURRENTLY, which waits too) and builds
    again, and succeeds once the transaction ends. The transaction ends as
    soon as the retry's DROP INDEX is seen, so the first attempt always times
    out, however slowly migrate starts.
    """
    with migration_module("online_ddl", app_label=APP) as module, sessions() as session:
        run("migrate", APP, verbosity=0)
        name = make_online_migration(module, INITIAL)
        old, watcher = session(), session()
        hold_write_transaction(old, "old")

        def end_old_transaction_at_the_retry() -> None:
            try:
                wait_for_activity("DROP INDEX CONCURRENTLY", waiting=False, session=watcher)
            finally:
                old.execute("COMMIT")

        ender = Background(end_old_transaction_at_the_retry)
        ender.start()
        try:
            output = run("migrate", APP, stage="pre-deploy", lock_timeout=0.2, lock_retries=8)
        finally:
            ender.finish()
        assert f"{APP}.{name}: could not get a lock within 0.2 s" in output.stdout
        assert "retry 1 of 8" in output.stdout
        assert applied() == {INITIAL, name}
        assert index_flags(ACCOUNT_INDEX) == (True, False)
        assert constraint_validated(AMOUNT_CHECK) is True
