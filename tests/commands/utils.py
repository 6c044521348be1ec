"""Helpers of the command tests: temporary migration modules, commands, schema.

Modelled on Django's tests/migrations/test_base.py: a fixture migrations
module holds the previous release's history, is copied into a temporary
package on sys.path and selected with MIGRATION_MODULES, so makemigrations
writes real files that the tests read, import and apply.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from types import ModuleType
from typing import Any

from django.apps.registry import Apps
from django.core.management import call_command
from django.db import connection
from django.db.backends.base.introspection import FieldInfo
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import extend_sys_path, modify_settings, override_settings

APP_LABEL = "testapp"
FIXTURES = Path(__file__).parent / "migrations"
# Tables of tests.testapp and of its fixture histories.
TABLE_PREFIXES = ("testapp_", "green_cmd_")


@dataclass(frozen=True)
class MigrationModule:
    """A temporary migrations package of the test app."""

    path: Path
    name: str

    def files(self) -> list[str]:
        """Return the migration names on disk, sorted."""
        return sorted(p.stem for p in self.path.glob("[0-9]*.py"))

    def read(self, migration_name: str) -> str:
        """Return the text of a migration file."""
        return (self.path / f"{migration_name}.py").read_text(encoding="utf-8")

    def load(self, migration_name: str) -> ModuleType:
        """Import a migration file as a module."""
        importlib.invalidate_caches()
        return importlib.import_module(f"{self.name}.{migration_name}")


@contextmanager
def migration_module(*fixtures: str, app_label: str = APP_LABEL) -> Iterator[MigrationModule]:
    """Use a temporary copy of the fixtures' migrations as the test app's migrations.

    The migration files of each fixture package under tests/commands/migrations/
    are copied, in order, into one temporary package (so a removal fixture's
    0002 migration sits on top of the shared ``initial`` 0001). ``app_label``
    names another app whose migrations they are.
    """
    with tempfile.TemporaryDirectory() as temp_dir:
        package = Path(tempfile.mkdtemp(dir=temp_dir))
        (package / "__init__.py").touch()
        target = package / "migrations"
        target.mkdir()
        (target / "__init__.py").touch()
        for fixture in fixtures:
            for source in sorted((FIXTURES / fixture).glob("[0-9]*.py")):
                shutil.copy(source, target / source.name)
        module = f"{package.name}.migrations"
        with extend_sys_path(temp_dir), override_settings(MIGRATION_MODULES={app_label: module}):
            yield MigrationModule(target, module)


@dataclass(frozen=True)
class Output:
    """What a command wrote."""

    stdout: str
    stderr: str


def run(command: str, *args: str, expect_exit: int | None = None, **options: Any) -> Output:
    """Run a management command in-process and return its output.

    ``expect_exit`` is the status of the SystemExit the command must raise
    (makemigrations --check exits 1, a bad app label 2); without it the
    command must return normally.
    """
    # Files written by an earlier command must be visible to the importer.
    importlib.invalidate_caches()
    stdout, stderr = StringIO(), StringIO()
    options.setdefault("no_color", True)
    try:
        call_command(command, *args, stdout=stdout, stderr=stderr, **options)
    except SystemExit as error:
        if expect_exit is None or error.code != expect_exit:
            raise
    else:
        assert expect_exit is None, f"{command} did not exit with status {expect_exit}"
    return Output(stdout.getvalue(), stderr.getvalue())


def verify(*args: str) -> tuple[int, str]:
    """Run verifystages; return its exit status and output."""
    stdout = StringIO()
    try:
        call_command("verifystages", *args, stdout=stdout, no_color=True)
    except SystemExit as error:
        return int(error.code or 0), stdout.getvalue()
    return 0, stdout.getvalue()


def applied() -> set[str]:
    """Return the names of the test app's applied migrations."""
    recorder = MigrationRecorder(connection)
    return {name for app_label, name in recorder.applied_migrations() if app_label == APP_LABEL}


def tables() -> set[str]:
    """Return the names of the tables in the database."""
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def columns(table: str) -> dict[str, FieldInfo]:
    """Return the introspected columns of table, by name.

    ``display_size`` is left out: MariaDB takes it from the data in the table.
    """
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return {info.name: info._replace(display_size=None) for info in description}


def select(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the rows of a query."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]


def execute(sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run one SQL statement."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def table_rows(table: str) -> list[tuple[Any, ...]]:
    """Return every row of table, ordered by its first column."""
    return select(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")


@contextmanager
def table_of(model: Any) -> Iterator[None]:
    """Create model's table for the block, then drop it."""
    with connection.schema_editor() as editor:
        editor.create_model(model)
    try:
        yield
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(model)


def historical_apps(migration_name: str) -> Apps:
    """Return the test app's models as they are after migration_name (an old release)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return loader.project_state((APP_LABEL, migration_name), at_end=True).apps


def drop_testapp_schema() -> None:
    """Drop every table of the test app and forget its applied migrations.

    Tests leave the schema wherever their migrations took it (even half-way
    on MariaDB), so this does not migrate backwards: it drops.
    """
    quote = connection.ops.quote_name
    names = sorted(table for table in tables() if table.startswith(TABLE_PREFIXES))
    cascade = " CASCADE" if connection.vendor == "postgresql" else ""
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        for table in names:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(table)}{cascade}")
    MigrationRecorder(connection).migration_qs.filter(app=APP_LABEL).delete()


@contextmanager
def app_with_history(directory: Path, app_label: str, initial: str) -> Iterator[Path]:
    """Install tests.commands.<app_label> with a history holding one initial migration.

    Yields the migrations directory, where makemigrations writes. The package
    gets a new name each time: the import system caches modules by name.
    """
    package_name = f"{app_label}_history_{uuid.uuid4().hex}"
    package = directory / package_name
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").touch()
    (package / "migrations" / "__init__.py").touch()
    (package / "migrations" / "0001_initial.py").write_text(initial)
    with (
        extend_sys_path(str(directory)),
        modify_settings(INSTALLED_APPS={"append": f"tests.commands.{app_label}"}),
        override_settings(MIGRATION_MODULES={app_label: f"{package_name}.migrations"}),
    ):
        importlib.invalidate_caches()
        call_command("migrate", app_label, verbosity=0)
        try:
            yield package / "migrations"
        finally:
            call_command("migrate", app_label, "zero", verbosity=0)


@dataclass(frozen=True)
class Written:
    """A migration file makemigrations wrote, as its text says."""

    name: str
    stage: str  # "PRE_DEPLOY" or "POST_DEPLOY"
    atomic: bool
    text: str


def written(directory: Path, after: str = "0001") -> list[Written]:
    """Return the migration files of directory numbered after ``after``, in order.

    Check what every generated file promises: one stage line, and
    ``atomic = False`` with its comment exactly when the file holds
    operations that run outside a transaction, and then only those.
    """
    from green_makemigrations.operations import runs_outside_transaction

    found = []
    for path in sorted(directory.glob("[0-9]*.py")):
        if path.stem[:4] <= after:
            continue
        text = path.read_text(encoding="utf-8")
        stages = [line.split(".")[-1] for line in text.splitlines() if "stage = Stage." in line]
        assert len(stages) == 1, text
        atomic = "    atomic = False\n" not in text
        assert ("# Not atomic:" in text) is not atomic, text
        spec = importlib.util.spec_from_file_location(f"written_{uuid.uuid4().hex}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        outside = [runs_outside_transaction(op) for op in module.Migration.operations]
        assert module.Migration.atomic is atomic, text
        assert all(outside) if outside and not atomic else not any(outside), text
        found.append(Written(path.stem, stages[0], atomic, text))
    return found


def last_of_stage(migrations: list[Written], stage: str) -> str:
    """Return the name of the last migration of stage ("PRE_DEPLOY"/"POST_DEPLOY")."""
    return [m.name for m in migrations if m.stage == stage][-1]
