"""The crash matrix's subprocess: a scenario's phases, killed at statements and re-run.

``python -m tests.faults.driver SCENARIO WANTED SALT``, with the database's
DATABASES entry as JSON in GREEN_FAULTS_DATABASE, prints one JSON document:

- ``reference``: per phase of the deploy and its rollback, the statements
  it sends and the database it leaves, in a run without a crash: the
  database reset, release N migrated and seeded with rows (NULLs, edge
  values), then each phase run after the writes of the release running
  during it (one row inserted, one updated, through that release's models);
- ``points``: for each point WANTED asks for ("full": every one; a number:
  that many, chosen by SALT), what a re-run left: in one child process the
  database is set up as the reference had it before the phase and the phase
  runs, SIGKILL sent to the child right before or right after its k-th
  statement; in a second child the running release makes its writes (as it
  would between the crash and the re-run) and the phase runs again.

A statement is one the migration executor sends while it applies or
unapplies a migration (the operations' SQL, the deferred SQL, the
recorder's), caught by a connection execute wrapper; reads, session
settings and savepoints are not counted. Each is attributed to the
outermost operation running it. Children are forked from this process, so
Django starts once per scenario.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import tempfile
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

APP_LABEL = "faults"
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
# Statements that change nothing a crash could leave half-done.
READS = ("SELECT", "SHOW", "PRAGMA", "EXPLAIN", "SAVEPOINT", "RELEASE", "SET", "DESCRIBE", "BEGIN")
ROWS = 20
# Columns whose values the database draws at random (a db_default of
# RandomUUID filling the existing rows): a snapshot shows only whether each is
# NULL, the unique index on them is compared with the other schema objects.
RANDOM_COLUMNS = ("token",)


@dataclass(frozen=True)
class Phase:
    """One command of the deploy (or of its rollback) and the release running during it."""

    name: str
    args: tuple[str, ...]
    # The migration whose state is the running release's models.
    release: str


def migration_names(scenario: str) -> list[str]:
    """Return the names of scenario's migrations, in order."""
    folder = SCENARIOS / scenario / "migrations"
    return sorted(p.stem for p in folder.glob("[0-9]*.py"))


def phases(scenario: str, stages: dict[str, str], linear: bool = True) -> list[Phase]:
    """Return the phases of scenario's deploy, then of its rollback, migration by migration.

    stages maps each migration after the initial one to its stage
    ("pre-deploy" or "post-deploy"). When the migrations are not one chain
    (a release written by two makemigrations runs: a pre-deploy migration
    beside a post-deploy one), the rollback is its two stages instead, as
    rolling_rollback runs them: ``migrate faults 0001 --stage pre-deploy``
    undoes the post-deploy migrations under release N+1, ``--stage
    post-deploy`` the rest under release N.
    """
    names = migration_names(scenario)
    first, last = names[0], names[-1]
    running = {"pre-deploy": first, "post-deploy": last}
    result = [
        Phase(stage, ("migrate", "--stage", stage), running[stage])
        for stage in ("pre-deploy", "post-deploy")
        if stage in stages.values()
    ]
    if not linear:
        undone = {"pre-deploy": "post-deploy", "post-deploy": "pre-deploy"}
        return result + [
            Phase(
                f"back-{stage}",
                ("migrate", APP_LABEL, first, "--stage", stage),
                running[undone[stage]],
            )
            for stage in ("pre-deploy", "post-deploy")
            if undone[stage] in stages.values()
        ]
    for index in range(len(names) - 1, 0, -1):
        name = names[index]
        result.append(
            Phase(
                f"back-{name[:4]}", ("migrate", APP_LABEL, names[index - 1]), running[stages[name]]
            )
        )
    return result


# ---------------------------------------------------------------------------
# Django set-up and the database


def setup(scenario: str) -> None:
    """Configure Django for scenario's migrations on the database of GREEN_FAULTS_DATABASE."""
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="crash-matrix",
        INSTALLED_APPS=["green_makemigrations", "tests.faults.app"],
        DATABASES={"default": json.loads(os.environ["GREEN_FAULTS_DATABASE"])},
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        MIGRATION_MODULES={APP_LABEL: f"tests.faults.scenarios.{scenario}.migrations"},
    )
    django.setup()


def reset() -> None:
    """Empty the database: drop everything in it."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        connection.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(settings["NAME"] + suffix).unlink(missing_ok=True)
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        return
    name = connection.ops.quote_name(settings["NAME"])
    connection.close()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    connection.close()


def migrate(*args: str) -> None:
    """Run the migrate command."""
    from django.core.management import call_command

    call_command(*args, verbosity=0, interactive=False)


def release_models(name: str) -> list[Any]:
    """Return the app's models as they are after migration name, referenced models first."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    apps = loader.project_state((APP_LABEL, name), at_end=True).apps
    models = sorted(apps.get_app_config(APP_LABEL).get_models(), key=lambda m: m.__name__)
    return sorted(
        models,
        key=lambda m: (
            bool(m._meta.many_to_many) or any(f.is_relation for f in m._meta.concrete_fields)
        ),
    )


def value(field: Any, number: int) -> Any:
    """Return the value of field in row number: NULLs, edge values, distinct values."""
    if field.null and number % 3 == 0:
        return None
    if field.is_relation:
        return (number - 1) % 5 + 1
    kind = field.get_internal_type()
    if kind in ("IntegerField", "BigIntegerField"):
        return {1: 0, 2: 2147483647}.get(number, number * 7)
    if kind == "CharField":
        return {1: "", 2: "é ' \" ✓"}.get(number, f"{field.name[:8]}-{number}")
    if kind == "UUIDField":
        return uuid.UUID(int=number)
    if kind == "JSONField":
        return {1: [], 2: {"é": [None, True, 1.5]}}.get(number, [number])
    raise NotImplementedError(kind)


def values(model: Any, number: int) -> dict[str, Any]:
    """Return the values of a row of model, by attribute name."""
    return {
        field.attname: value(field, number)
        for field in model._meta.concrete_fields
        if not field.primary_key
    }


def seed() -> None:
    """Insert ROWS rows into each table of release N (the first migration's state)."""
    for model in release_models(migration_names(SCENARIO)[0]):
        for number in range(1, ROWS + 1):
            row = model.objects.create(pk=number, **values(model, number))
            for field in model._meta.many_to_many:
                getattr(row, field.name).set([number % 5 + 1, (number + 1) % 5 + 1])


def write(phase: Phase, index: int) -> None:
    """Make the writes of phase's running release: one row inserted, one row updated."""
    for model in release_models(phase.release):
        inserted = model.objects.create(pk=1000 + index, **values(model, 1000 + index))
        model.objects.filter(pk=1).update(**values(model, 2000 + index))
        for field in model._meta.many_to_many:
            getattr(inserted, field.name).set([1, 2])
            getattr(model.objects.get(pk=1), field.name).add(3 + index % 3)


# ---------------------------------------------------------------------------
# What the database holds


def _plain(item: Any) -> Any:
    if isinstance(item, (bytes, memoryview)):
        return bytes(item).hex()
    if isinstance(item, Decimal):
        return str(item)
    return item if isinstance(item, (int, str, float, type(None))) else str(item)


def _masked(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: "random" if name in RANDOM_COLUMNS and item is not None else item
        for name, item in row.items()
    }


def snapshot() -> dict[str, Any]:
    """Return the app's rows, per table, and the database's schema objects."""
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = sorted(
            info.name
            for info in connection.introspection.get_table_list(cursor)
            if info.type == "t" and info.name.startswith(f"{APP_LABEL}_")
        )
        data = {}
        for table in tables:
            cursor.execute(f"SELECT * FROM {quote(table)}")
            names = [column[0] for column in cursor.description]
            rows = [
                json.dumps(_masked(dict(zip(names, map(_plain, row), strict=True))), sort_keys=True)
                for row in cursor.fetchall()
            ]
            data[table] = sorted(rows)
        objects = sorted(_objects(cursor, connection.vendor))
    applied = sorted(
        name for app, name in MigrationRecorder(connection).applied_migrations() if app == APP_LABEL
    )
    return {"rows": data, "objects": objects, "applied": applied}


SCHEMA_QUERIES = {
    "postgresql": [
        "SELECT 'column ' || c.relname || '.' || a.attname || ' ' || "
        "format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' "
        "ELSE '' END FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') "
        "AND a.attnum > 0 AND NOT a.attisdropped",
        "SELECT 'relation ' || relkind::text || ' ' || relname FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'i', 'm')",
        "SELECT 'INVALID index ' || indexrelid::regclass::text FROM pg_index "
        "WHERE NOT indisvalid OR NOT indisready",
        "SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ' ' "
        "|| contype::text || CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
        "SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname FROM pg_trigger "
        "WHERE NOT tgisinternal",
        "SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    ],
    "mysql": [
        "SELECT CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, ' ', "
        "IS_NULLABLE) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
        "SELECT CONCAT('relation ', TABLE_TYPE, ' ', TABLE_NAME) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE()",
        "SELECT DISTINCT CONCAT('index ', TABLE_NAME, '.', INDEX_NAME, ' ', NON_UNIQUE) "
        "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()",
        "SELECT CONCAT('constraint ', TABLE_NAME, '.', CONSTRAINT_NAME, ' ', CONSTRAINT_TYPE) "
        "FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()",
        "SELECT CONCAT('trigger ', EVENT_OBJECT_TABLE, '.', TRIGGER_NAME) "
        "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
        "SELECT CONCAT('routine ', ROUTINE_NAME) FROM information_schema.ROUTINES "
        "WHERE ROUTINE_SCHEMA = DATABASE()",
    ],
    "sqlite": [
        "SELECT type || ' ' || tbl_name || '.' || name FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%'",
        "SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' ' || p.\"notnull\" "
        "FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type IN ('table', 'view')",
    ],
}


def _objects(cursor: Any, vendor: str) -> Iterator[str]:
    for query in SCHEMA_QUERIES[vendor]:
        cursor.execute(query)
        for (line,) in cursor.fetchall():
            yield line


# ---------------------------------------------------------------------------
# Statements


def _operation_running() -> str | None:
    """Return the name of the outermost operation running, "migrate" outside one, or None.

    None when no migration is being applied or unapplied.
    """
    from django.db.migrations.operations.base import Operation

    frame = sys._getframe(2)
    applying = False
    operation = None
    while frame is not None:
        name = frame.f_code.co_name
        if name in ("apply_migration", "unapply_migration"):
            applying = True
        elif name in ("database_forwards", "database_backwards"):
            owner = frame.f_locals.get("self")
            if isinstance(owner, Operation):
                operation = f"{type(owner).__name__}.{name.split('_')[1]}"
        frame = frame.f_back  # type: ignore[assignment]
    if not applying:
        return None
    return operation or "migrate"


def is_write(sql: str) -> bool:
    """Return whether sql may change the database (not a read nor a session setting)."""
    words = sql.lstrip(" (\n").split(None, 1)
    return bool(words) and words[0].upper() not in READS


@contextmanager
def statements(log: list[tuple[str, str]], crash: tuple[int, str] | None = None) -> Iterator[None]:
    """Record the statements migrations send into log; SIGKILL this process at crash."""
    from django.db import connection

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        operation = _operation_running()
        if operation is None or not is_write(sql):
            return execute(sql, params, many, context)
        log.append((operation, " ".join(sql.split())[:300]))
        if crash == (len(log), "before"):
            os.kill(os.getpid(), signal.SIGKILL)
        result = execute(sql, params, many, context)
        if crash == (len(log), "after"):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    with connection.execute_wrapper(wrapper):
        yield


# ---------------------------------------------------------------------------
# Modes

SCENARIO = ""


def linear() -> bool:
    """Return whether each migration of the scenario depends on the one before it only."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    names = migration_names(SCENARIO)
    return all(
        {parent.key for parent in graph.node_map[(APP_LABEL, name)].parents}
        == {(APP_LABEL, before)}
        for before, name in zip(names, names[1:], strict=False)
    )


def stages() -> dict[str, str]:
    """Return the stage of each migration after the initial one."""
    from django.db.migrations.loader import MigrationLoader

    from green_makemigrations.plan import graph_stages

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = graph_stages(loader.graph)
    return {name: known[(APP_LABEL, name)].stage.label for name in migration_names(SCENARIO)[1:]}


def prepare(until: str) -> None:
    """Reset the database, migrate release N, seed it, run the phases before until."""
    reset()
    migrate("migrate", APP_LABEL, migration_names(SCENARIO)[0])
    seed()
    for index, phase in enumerate(phases(SCENARIO, stages(), linear())):
        if phase.name == until:
            return
        write(phase, index)
        migrate(*phase.args)


def reference() -> list[dict[str, Any]]:
    """Run every phase without a crash; return each one's statements and snapshot after it."""
    reset()
    migrate("migrate", APP_LABEL, migration_names(SCENARIO)[0])
    seed()
    report = []
    for index, phase in enumerate(phases(SCENARIO, stages(), linear())):
        write(phase, index)
        log: list[tuple[str, str]] = []
        with statements(log):
            migrate(*phase.args)
        report.append({"phase": phase.name, "statements": log, "after": snapshot()})
    return report


def choose(report: list[dict[str, Any]], wanted: str, salt: str) -> list[tuple[str, int, str]]:
    """Return the (phase, statement number, "before"/"after") points to run.

    wanted is GREEN_CRASH_MATRIX: "full" for every point, a number for that
    many, else one; a sample depends on salt (so it differs between Django
    versions and backends) and on nothing else.
    """
    every = [
        (phase["phase"], number, when)
        for phase in report
        for number in range(1, len(phase["statements"]) + 1)
        for when in ("before", "after")
    ]
    if wanted == "full" or not every:
        return every
    count = min(int(wanted) if wanted.isdigit() else 1, len(every))
    start = int(hashlib.sha256(f"{SCENARIO}-{salt}".encode()).hexdigest(), 16)
    step = max(len(every) // count, 1)
    chosen = {every[(start + i * step) % len(every)] for i in range(count)}
    return sorted(chosen | set(pinned(report)))


# Points where the full matrix found a bug, run every time: (phase, operation,
# text in the statement, when), at the first statement that matches (if any:
# the statements differ between backends).
PINNED: dict[str, list[tuple[str, str, str, str]]] = {
    "db_column": [
        # PostgreSQL: a sync's trigger dropped, the running release's writes since not copied.
        ("back-0003", "SyncRetypedColumn.backwards", "DROP TRIGGER", "after"),
        # PostgreSQL: the column dropped, the migration not recorded unapplied.
        ("back-0003", "AddFieldIndexConcurrently.backwards", "DROP COLUMN", "after"),
        # MariaDB: a db_column change's sync half dropped; the re-run copied the old column
        # (which the new release no longer writes) over the replacement.
        ("post-deploy", "ReplaceColumn.forwards", "DROP TRIGGER", "after"),
        # MariaDB: the column added (or an index built), the re-run's ADD COLUMN (CREATE INDEX)
        # failed as a duplicate.
        ("pre-deploy", "AddFieldIndexConcurrently.forwards", "ADD COLUMN", "after"),
        ("back-0003", "AlterFieldIndexConcurrently.backwards", "CREATE INDEX", "after"),
    ],
    "db_table": [
        # MariaDB: the placeholder view made, the swap not (1347 'is not of type VIEW').
        ("pre-deploy", "AlterModelTableWithViews.forwards", "CREATE OR REPLACE VIEW", "after"),
        # MariaDB: the swap made, its spare view not dropped; forwards and backwards.
        ("pre-deploy", "AlterModelTableWithViews.forwards", "RENAME TABLE", "after"),
        ("back-0002", "AlterModelTableWithViews.backwards", "RENAME TABLE", "after"),
    ],
    "rename_model": [
        # MariaDB: the many-to-many column's triggers dropped, its NOT NULL column not.
        ("back-0002", "RenameModelWithViews.backwards", "DROP TRIGGER", "after"),
        # MariaDB: a referencing model's foreign key dropped, not yet added back.
        ("pre-deploy", "RenameModelWithViews.forwards", "ADD CONSTRAINT `faults_entry", "before"),
        ("back-0002", "RenameModelWithViews.backwards", "DROP FOREIGN KEY `faults_entry", "after"),
        # PostgreSQL: the tables renamed back, the migration not recorded unapplied.
        ("back-0002", "RenameModelWithViews.backwards", "VALIDATE CONSTRAINT", "after"),
    ],
    "rename_field": [
        # PostgreSQL, SQLite: unapplied, not yet recorded unapplied (Django records it after
        # the unapply's transaction; the executor now records it inside).
        ("back-0002", "migrate", "DELETE FROM", "before"),
    ],
    "retype": [
        ("back-0002", "migrate", "DELETE FROM", "before"),
        # MariaDB: the sync triggers dropped, the columns not swapped.
        ("post-deploy", "ReplaceColumn.forwards", "ALTER TABLE", "before"),
        # MariaDB: rolled back half-way.
        ("back-0003", "ReplaceColumn.backwards", "RENAME COLUMN", "after"),
    ],
}


def pinned(report: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    """Return the PINNED points of the scenario found in report."""
    points = []
    for phase_name, operation, text, when in PINNED.get(SCENARIO, []):
        for phase in report:
            if phase["phase"] != phase_name:
                continue
            numbers = [
                number
                for number, (running, statement) in enumerate(phase["statements"], 1)
                if running == operation and text in statement
            ]
            points += [(phase_name, numbers[0], when)] if numbers else []
    return points


def forked(work: Callable[[], Any]) -> tuple[int, Any]:
    """Run work in a child process; return its wait status and its JSON result.

    The child gets no connection of the parent's (they are closed first),
    so a SIGKILL in it leaves this process's state alone.
    """
    from django.db import connections

    connections.close_all()
    descriptor, name = tempfile.mkstemp(prefix="green-faults-")
    os.close(descriptor)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            result = work()
        except BaseException:
            result, code = {"error": traceback.format_exc()}, 1
        Path(name).write_text(json.dumps(result))
        os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    output = Path(name).read_text()
    Path(name).unlink()
    return status, json.loads(output) if output else None


def run_point(phase: dict[str, Any], index: int, number: int, when: str) -> dict[str, Any]:
    """Crash phase at a point in one child, re-run it in another; return what happened."""
    step = phases(SCENARIO, stages(), linear())[index]

    def crash() -> None:
        prepare(step.name)
        with statements([], (number, when)):
            migrate(*step.args)

    def finish() -> dict[str, Any]:
        write(step, index)
        migrate(*step.args)
        return snapshot()

    operation, statement = phase["statements"][number - 1]
    point = {"phase": step.name, "number": number, "when": when}
    point |= {"operation": operation, "statement": statement, "error": None, "after": None}
    status, result = forked(crash)
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        point["error"] = f"the crash run was not killed (status {status}): {result}"
        return point
    status, result = forked(finish)
    if status != 0:
        point["error"] = f"the re-run failed: {result['error']}"
    else:
        point["after"] = result
    return point


def main() -> None:
    """Run the reference and the chosen points of a scenario; print them as JSON."""
    global SCENARIO
    SCENARIO, wanted, salt = sys.argv[1:]
    setup(SCENARIO)
    status, report = forked(reference)
    if status != 0:
        raise SystemExit(f"the reference run failed: {report['error']}")
    names = [phase["phase"] for phase in report]
    results = [
        run_point(report[names.index(name)], names.index(name), number, when)
        for name, number, when in choose(report, wanted, salt)
    ]
    print(json.dumps({"reference": report, "points": results}))


if __name__ == "__main__":
    main()
