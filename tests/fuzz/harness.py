"""Run a scenario with green_makemigrations and with stock Django; compare.

A scenario (strategies.Scenario) is played twice on the same database, each
time from an empty schema:

* stock: each release's models are installed in turn and ``makemigrations
  --stock`` writes Django's own migrations; ``migrate`` applies them. The
  final schema is the reference.
* green: the deployed release is migrated and holds a row per model; each
  authoring run writes the package's migrations (or is refused with a
  CommandError, which ends the case); ``migrate --stage pre-deploy``; both
  releases insert, read and update rows; ``migrate --stage post-deploy``;
  the schema must equal stock's; the migrations go back to the deployed
  release (the schema must equal the deployed one), forwards again (the
  same final schema) and back to zero (nothing of the app left).

Each release's models live in their own throwaway package (a new module name
each time: the import system and the app registry cache models by module),
installed under the one app label ``fz``; the migrations of a play live in
another throwaway package selected with MIGRATION_MODULES.
"""

from __future__ import annotations

import datetime
import importlib
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings
from django.utils import timezone

from green_makemigrations.questioner import GreenNonInteractiveQuestioner
from green_makemigrations.verify import report
from green_makemigrations.verify.proof import applied_tracker, prove

from .strategies import APP_LABEL, AppSpec, FieldSpec, Renames, Scenario

# Every table, view, M2M table and trigger function of the app starts so.
PREFIX = "fz"


class FuzzFailure(AssertionError):
    """The package did something wrong with a scenario; the message says what."""


class StockCannot(Exception):
    """Stock Django cannot apply the scenario either: not a valid case."""


# Commands -------------------------------------------------------------------


def _questioner(base: type, renames: Renames) -> type:
    """Return a subclass of questioner base that confirms exactly renames."""

    class FuzzQuestioner(base):  # type: ignore[misc,valid-type]
        def ask_rename(
            self, model_name: str, old_name: str, new_name: str, field_instance: Any
        ) -> bool:
            return (model_name.lower(), old_name, new_name) in renames.fields

        def ask_rename_model(self, old_model_state: Any, new_model_state: Any) -> bool:
            return (old_model_state.name_lower, new_model_state.name_lower) in renames.models

    return FuzzQuestioner


def command(name: str, *args: str, **options: Any) -> str:
    """Run a management command quietly in-process; return its output."""
    importlib.invalidate_caches()
    out = StringIO()
    options.setdefault("verbosity", 0)
    call_command(name, *args, stdout=out, stderr=out, no_color=True, **options)
    return out.getvalue()


# The project: releases installed in turn ---------------------------------------


@dataclass
class Project:
    """Throwaway packages of one play of a scenario, under root (on sys.path)."""

    root: Path
    flavour: str
    migrations: str = ""
    _override: override_settings | None = None
    installed: AppSpec | None = None
    _base_apps: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        package = f"fzmig_{self.flavour}_{uuid.uuid4().hex[:12]}"
        (self.root / package / "migrations").mkdir(parents=True)
        (self.root / package / "__init__.py").touch()
        (self.root / package / "migrations" / "__init__.py").touch()
        self.migrations = f"{package}.migrations"
        self._base_apps = list(settings.INSTALLED_APPS)

    @property
    def migrations_dir(self) -> Path:
        """Return the directory of the migration files."""
        return self.root / self.migrations.replace(".", "/")

    def files(self) -> list[str]:
        """Return the names of the migrations written so far."""
        return sorted(p.stem for p in self.migrations_dir.glob("[0-9]*.py"))

    def install(self, app: AppSpec) -> None:
        """Install app's models as the ``fz`` app (replacing the installed release)."""
        self.uninstall()
        package = f"fzapp_{uuid.uuid4().hex[:12]}"
        directory = self.root / package
        directory.mkdir()
        (directory / "__init__.py").touch()
        (directory / "apps.py").write_text(
            "from django.apps import AppConfig\n\n\n"
            "class FuzzConfig(AppConfig):\n"
            "    default = True\n"
            f"    name = {package!r}\n"
            f"    label = {APP_LABEL!r}\n"
            "    default_auto_field = 'django.db.models.AutoField'\n"
        )
        (directory / "models.py").write_text(app.render())
        importlib.invalidate_caches()
        self._override = override_settings(
            INSTALLED_APPS=[*self._base_apps, package],
            MIGRATION_MODULES={APP_LABEL: self.migrations},
        )
        self._override.enable()
        self.installed = app

    def uninstall(self) -> None:
        """Remove the installed release's models from the app registry."""
        global_apps.all_models.pop(APP_LABEL, None)
        if self._override is not None:
            self._override.disable()
            self._override = None
        global_apps.all_models.pop(APP_LABEL, None)
        for name in [m for m in sys.modules if m.startswith("fzapp_")]:
            del sys.modules[name]

    def makemigrations(self, renames: Renames, stock: bool) -> str:
        """Run makemigrations for the installed release, confirming renames."""
        base = NonInteractiveMigrationQuestioner if stock else GreenNonInteractiveQuestioner
        target = (
            "django.core.management.commands.makemigrations.NonInteractiveMigrationQuestioner"
            if stock
            else "green_makemigrations.management.commands.makemigrations."
            "GreenNonInteractiveQuestioner"
        )
        with mock.patch(target, _questioner(base, renames)):
            return command("makemigrations", APP_LABEL, interactive=False, stock=stock)

    def leaves(self) -> list[tuple[str, str]]:
        """Return the leaf migrations of the app."""
        return MigrationLoader(connection).graph.leaf_nodes(APP_LABEL)

    def release_apps(self, nodes: list[tuple[str, str]]) -> Apps:
        """Return the historical models at nodes (a release's models, as migrations see them)."""
        loader = MigrationLoader(connection)
        return loader.project_state(nodes, at_end=True).apps

    def pending(self) -> list[str]:
        """Return the names of the app's migrations not applied yet."""
        executor = MigrationExecutor(connection)
        targets = executor.loader.graph.leaf_nodes(APP_LABEL)
        return [
            m.name for m, backwards in executor.migration_plan(targets) if m.app_label == APP_LABEL
        ]


@contextmanager
def project(root: Path, flavour: str) -> Iterator[Project]:
    """Yield a Project whose packages live under root; clean the database after."""
    sys.path.insert(0, str(root))
    play = Project(root, flavour)
    try:
        yield play
    finally:
        recover()
        play.uninstall()
        sys.path.remove(str(root))
        drop_schema()


# Database -------------------------------------------------------------------


def drop_schema() -> None:
    """Drop every table, view and trigger function of the app; forget its migrations."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        everything = connection.introspection.get_table_list(cursor)
    views = [t.name for t in everything if t.type == "v" and t.name.startswith(PREFIX)]
    tables = [t.name for t in everything if t.type == "t" and t.name.startswith(PREFIX)]
    cascade = " CASCADE" if connection.vendor == "postgresql" else ""
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        for view in views:
            cursor.execute(f"DROP VIEW IF EXISTS {quote(view)}{cascade}")
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(table)}{cascade}")
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() AND p.proname LIKE %s",
                (f"{PREFIX}%",),
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP FUNCTION IF EXISTS {quote(name)}() CASCADE")
    MigrationRecorder(connection).migration_qs.filter(app=APP_LABEL).delete()
    # Content types (and their permissions) that migrate's post_migrate made:
    # left behind, the next example's model renames would meet them.
    ContentType.objects.filter(app_label=APP_LABEL).delete()
    ContentType.objects.clear_cache()


def delete_rows() -> None:
    """Delete every row of the app's tables."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = [
            quote(t.name)
            for t in connection.introspection.get_table_list(cursor)
            if t.type == "t" and t.name.startswith(PREFIX)
        ]
    if not tables:
        return
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Not every foreign key is deferrable (the package adds some).
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
            return
        for table in tables:
            cursor.execute(f"DELETE FROM {table}")


Schema = dict[str, Any]


def schema() -> Schema:
    """Return the app's schema, normalised for comparison.

    Ignored, on purpose: the order of columns (the package appends the
    columns it adds, a rename-by-copy puts the new column last) and the names
    of indexes and constraints (Django derives them from a hash of the table
    and column names, which differ along a phased path, e.g. an index made
    while a column was ``<name>_retyped``). An index or constraint is known
    by its columns and kind. MariaDB's ``display_size`` depends on the data;
    see ``_column`` for its ``has_json_constraint``.
    """
    result: Schema = {}
    with connection.cursor() as cursor:
        listing = connection.introspection.get_table_list(cursor)
        for info in sorted(listing, key=lambda t: t.name):
            if not info.name.startswith(PREFIX):
                continue
            if info.type == "v":
                result[info.name] = "VIEW"
                continue
            description = connection.introspection.get_table_description(cursor, info.name)
            columns = {c.name: _column(c) for c in description}
            found = [
                (
                    tuple(c["columns"] or ()),
                    bool(c["primary_key"]),
                    bool(c["unique"]),
                    tuple(c["foreign_key"] or ()),
                    bool(c["check"]),
                    bool(c["index"]),
                    c.get("type") if c["index"] else None,
                )
                for c in connection.introspection.get_constraints(cursor, info.name).values()
            ]
            if connection.vendor == "postgresql":
                found = _merge_equal_uniques(found)
            constraints = sorted(repr(entry) for entry in found)
            result[info.name] = {"columns": columns, "constraints": constraints}
    return result


def _merge_equal_uniques(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Return found with equal unique constraints counted once (PostgreSQL).

    PostgreSQL makes one constraint of equal unique constraints declared in
    one CREATE TABLE (a ``unique=True`` field and a UniqueConstraint on it),
    but two when they come from separate statements: stock Django's own
    schema then depends on the path its migrations took, and equal unique
    constraints enforce the same thing. (Entries: columns, primary key,
    unique, foreign key, check, index, index type.)
    """
    merged: list[tuple[Any, ...]] = []
    for entry in found:
        primary_key, unique = entry[1], entry[2]
        if unique and not primary_key and entry in merged:
            continue
        merged.append(entry)
    return merged


def _column(info: Any) -> tuple[Any, ...]:
    """Return a column's introspected description without its name, normalised.

    MariaDB: ``has_json_constraint`` is left out. Stock Django renames a
    JSONField's column with ``RENAME COLUMN`` (or ``CHANGE``), and MariaDB
    then reports no ``json_valid`` check on it, where the package's renamed
    column is a new column that has one (stricter, not a regression).
    """
    info = info._replace(display_size=None)
    if hasattr(info, "has_json_constraint"):
        info = info._replace(has_json_constraint=None)
    return tuple(info)[1:]


def schema_diff(expected: Schema, actual: Schema) -> str:
    """Return a readable difference of two schemas ('' when equal)."""
    lines = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            lines.append(f"table {table}: missing")
        elif table not in expected:
            lines.append(
                f"table {table}: unexpected {actual[table] if actual[table] == 'VIEW' else ''}"
            )
        elif expected[table] != actual[table]:
            e, a = expected[table], actual[table]
            if e == "VIEW" or a == "VIEW":
                lines.append(f"table {table}: {e!r} vs {a!r}")
                continue
            for column in sorted(set(e["columns"]) | set(a["columns"])):
                if e["columns"].get(column) != a["columns"].get(column):
                    lines.append(
                        f"{table}.{column}: expected {e['columns'].get(column)}, "
                        f"got {a['columns'].get(column)}"
                    )
            # A multiset: a unique field and a UniqueConstraint on it are two.
            expected_c, actual_c = Counter(e["constraints"]), Counter(a["constraints"])
            missing = sorted((expected_c - actual_c).elements())
            extra = sorted((actual_c - expected_c).elements())
            if missing or extra:
                lines.append(f"{table} constraints: missing {missing}, unexpected {extra}")
    return "\n".join(lines)


# Rows written by a release -----------------------------------------------------


@dataclass
class Rows:
    """Rows a release wrote: model uid -> primary key."""

    release: str
    pks: dict[int, Any] = field(default_factory=dict)


_counter = iter(range(1, 10**9))


def value_of(spec: FieldSpec) -> Any:
    """Return a fresh value for a scalar field (unique values, non-negative)."""
    n = next(_counter) % 10000
    if spec.kind in ("int", "bigint"):
        return n
    if spec.kind in ("char", "text"):
        return f"s{n}"
    if spec.kind == "bool":
        return n % 2 == 0
    if spec.kind == "date":
        return datetime.date(2020, 1, 1) + datetime.timedelta(days=n)
    if spec.kind == "datetime":
        return datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=n)
    if spec.kind == "decimal":
        return Decimal(n % 1000)
    if spec.kind == "uuid":
        return uuid.uuid4()
    if spec.kind == "json":
        return {"n": n}
    raise AssertionError(spec.kind)


def write_rows(release: str, app: AppSpec, models: Apps) -> Rows:
    """Insert a row per model of app (and a link per M2M) with the release's models."""
    rows = Rows(release)
    objects: dict[int, Any] = {}
    for spec in sorted(app.models, key=lambda m: m.rank):
        model = models.get_model(APP_LABEL, spec.name)
        values: dict[str, Any] = {}
        for f in spec.fields:
            if f.kind in ("fk", "o2o"):
                target = objects.get(f.to or 0)
                if target is None and not f.null:
                    raise AssertionError(f"harness: no row of the target of {spec.name}.{f.name}")
                values[f.name] = target
            elif f.kind != "m2m":
                values[f.name] = value_of(f)
        try:
            objects[spec.uid] = model.objects.create(**values)
        except Exception as error:
            raise FuzzFailure(
                f"{release} release: insert into {spec.name} failed: {error!r}"
            ) from error
        rows.pks[spec.uid] = objects[spec.uid].pk
    for spec in app.models:
        for f in spec.fields:
            if f.kind == "m2m" and f.to in objects:
                try:
                    getattr(objects[spec.uid], f.name).add(objects[f.to or 0])
                except Exception as error:
                    raise FuzzFailure(
                        f"{release} release: add to {spec.name}.{f.name} failed: {error!r}"
                    ) from error
    return rows


def read_and_update(
    release: str, app: AppSpec, models: Apps, own: Rows, others: AppSpec, not_null: set[int]
) -> None:
    """Read every row and update the release's own rows with its models.

    A field of app whose uid is in not_null must not read NULL (see
    ``expected_not_null``).
    """
    for spec in app.models:
        model = models.get_model(APP_LABEL, spec.name)
        try:
            rows = list(model.objects.all())
        except Exception as error:
            raise FuzzFailure(
                f"{release} release: reading {spec.name} failed: {error!r}"
            ) from error
        for obj in rows:
            for f in spec.fields:
                if f.uid in not_null and f.concrete:
                    attname = model._meta.get_field(f.name).attname
                    if getattr(obj, attname) is None:
                        raise FuzzFailure(
                            f"{release} release reads NULL from NOT NULL field "
                            f"{spec.name}.{f.name} "
                            f"(row {obj.pk}), where a database default could have been kept"
                        )
            for f in spec.fields:
                if f.kind == "m2m":
                    try:
                        list(getattr(obj, f.name).all())
                    except Exception as error:
                        raise FuzzFailure(
                            f"{release} release: reading {spec.name}.{f.name} failed: {error!r}"
                        ) from error
        if spec.uid in own.pks:
            obj = model.objects.get(pk=own.pks[spec.uid])
            for f in spec.fields:
                if f.kind in ("int", "bigint", "char", "text"):
                    setattr(obj, f.name, value_of(f))
            try:
                obj.save()
            except Exception as error:
                raise FuzzFailure(
                    f"{release} release: update of {spec.name} failed: {error!r}"
                ) from error


def expected_not_null(reader: AppSpec, writer: AppSpec, added: bool) -> set[int]:
    """Return the uids of reader's NOT NULL fields that must not read NULL in writer's rows.

    Those the writer release writes itself (same field, maybe renamed), and
    those with a default the database can hold (a literal, Now(), a
    db_default; README "How each change is phased"). A blank CharField added
    (``added``: the reader is the new release) gets ``db_default=''``. The
    tool may make the others nullable.
    """
    result = set()
    for model in reader.models:
        if not writer.has_model(model.uid):
            continue
        # What the writer writes NOT NULL: a field it declares nullable
        # (made nullable, perhaps renamed too) may come back NULL.
        written = {f.uid for f in writer.model(model.uid).fields if f.concrete and not f.null}
        for f in model.fields:
            if not f.concrete or f.null:
                continue
            # A unique field gets no constant database default (every row of
            # the other release would share it): the tool makes it nullable.
            unique = (
                f.unique
                or any(f.uid in uids for _, uids in model.unique_constraints)
                or any(f.uid in uids for uids in model.unique_together)
            )
            blank_text = added and f.blank and f.kind in ("char", "text") and f.uid not in written
            if f.uid in written or (not unique and (f.computable_default() or blank_text)):
                result.add(f.uid)
    return result


# Plays --------------------------------------------------------------------------


@dataclass
class Outcome:
    """How a green play ended."""

    refused: str | None = None  # makemigrations' message when it refused
    files: list[str] = field(default_factory=list)
    final_schema: Schema | None = None


def play_stock(root: Path, scenario: Scenario) -> Schema:
    """Return the schema stock Django's migrations give for the scenario.

    The deployed release holds a row per model, as in the green play, so
    that a change no migration can apply to existing rows (a foreign key
    moved to a new table) is not blamed on the package.
    """
    with project(root, "stock") as play:
        try:
            play.install(scenario.initial)
            play.makemigrations(Renames(), stock=True)
            command("migrate", APP_LABEL)
            write_rows("old (stock)", scenario.initial, play.release_apps(play.leaves()))
            for run in scenario.runs:
                play.install(run.app)
                play.makemigrations(run.renames, stock=True)
            command("migrate", APP_LABEL)
        except SystemExit as error:
            raise StockCannot(f"stock makemigrations exited {error.code}") from error
        except Exception as error:
            raise StockCannot(f"stock Django fails: {error!r}") from error
        return schema()


def play_green(root: Path, scenario: Scenario, expected: Schema) -> Outcome:
    """Play scenario with the package; raise FuzzFailure on any misbehaviour."""
    outcome = Outcome()
    with project(root, "green") as play:
        play.install(scenario.initial)
        play.makemigrations(Renames(), stock=False)
        command("migrate", APP_LABEL)
        deployed = play.leaves()
        deployed_schema = schema()
        old_apps = play.release_apps(deployed)
        write_rows("old (before the deploy)", scenario.initial, old_apps)

        for number, run in enumerate(scenario.runs, start=1):
            play.install(run.app)
            try:
                play.makemigrations(run.renames, stock=False)
            except CommandError as error:
                message = str(error)
                # Clear: says where (app.model.field or app.model) and more than a word.
                if len(message) < 40 or f"{APP_LABEL}." not in message:
                    raise FuzzFailure(
                        f"run {number}: makemigrations refused without a clear message: {message!r}"
                    ) from error
                outcome.refused = message
                return outcome
            except SystemExit as error:
                raise FuzzFailure(f"run {number}: makemigrations exited {error.code}") from error
            except Exception as error:
                raise FuzzFailure(f"run {number}: makemigrations crashed: {error!r}") from error
        outcome.files = play.files()
        for name in outcome.files:
            try:
                importlib.import_module(f"{play.migrations}.{name}")
            except Exception as error:
                raise FuzzFailure(f"migration {name} does not import: {error!r}") from error
        try:
            leftover = command(
                "makemigrations", APP_LABEL, check_changes=True, dry_run=True, interactive=False
            )
        except SystemExit as error:
            raise FuzzFailure("makemigrations --check finds changes after the runs") from error
        del leftover
        check_proof()

        new = scenario.final
        stage(play, "pre-deploy")
        check_derived_schema("after pre-deploy")
        new_apps = global_apps
        old_rows = write_rows("old", scenario.initial, old_apps)
        new_rows = write_rows("new", new, new_apps)
        read_and_update(
            "old",
            scenario.initial,
            old_apps,
            old_rows,
            new,
            expected_not_null(scenario.initial, new, added=False),
        )
        read_and_update(
            "new",
            new,
            new_apps,
            new_rows,
            scenario.initial,
            expected_not_null(new, scenario.initial, added=True),
        )
        stage(play, "post-deploy")
        if play.pending():
            raise FuzzFailure(f"migrations left unapplied after both stages: {play.pending()}")
        check_derived_schema("after post-deploy")
        read_and_update(
            "new (after post-deploy)",
            new,
            new_apps,
            write_rows("new", new, new_apps),
            scenario.initial,
            set(),
        )

        final = schema()
        outcome.final_schema = final
        diff = schema_diff(expected, final)
        if diff:
            raise FuzzFailure(f"final schema differs from stock Django's:\n{diff}")

        # Rolling back with the rows both releases wrote can fail on the data
        # alone (NULLs the new release wrote in a column going back to NOT
        # NULL, duplicates under a unique index coming back); the package
        # then stops with a message saying which rows. The rollback is checked
        # on the schema: empty the tables first.
        delete_rows()
        if len(deployed) != 1:
            raise AssertionError(f"harness: the deployed release has {len(deployed)} leaves")
        try:
            command("migrate", APP_LABEL, deployed[0][1])
        except Exception as error:
            recover()
            raise FuzzFailure(f"migrating back to {deployed[0][1]} failed: {error!r}") from error
        diff = schema_diff(deployed_schema, schema())
        if diff:
            raise FuzzFailure(f"schema after migrating back differs from the deployed one:\n{diff}")
        stage(play, "pre-deploy", again=True)
        stage(play, "post-deploy", again=True)
        diff = schema_diff(final, schema())
        if diff:
            raise FuzzFailure(f"schema after migrating forwards again differs:\n{diff}")
        # And all the way back: nothing of the app may be left.
        try:
            command("migrate", APP_LABEL, "zero")
        except Exception as error:
            recover()
            raise FuzzFailure(f"migrating back to zero failed: {error!r}") from error
        diff = schema_diff({}, schema())
        if diff:
            raise FuzzFailure(f"tables left after migrating back to zero:\n{diff}")
    return outcome


def check_proof() -> None:
    """Fail unless verifystages proves the plan makemigrations wrote."""
    proof = prove(MigrationExecutor(connection), connection)
    if not proof.proven:
        text = "\n".join(report.as_text(proof))
        raise FuzzFailure(f"verifystages rejects the plan makemigrations wrote:\n{text}")


def check_derived_schema(when: str) -> None:
    """Fail unless the schema the proof derives from the migrations is the database's.

    Compared: the app's tables and views by name, and each table's columns
    with their nullability (on SQLite a view is a mirror table: its name only).
    """
    tracker = applied_tracker(MigrationExecutor(connection), connection, precise=True)
    derived = {
        name: None if relation.is_view else {c.name: c.null for c in relation.columns.values()}
        for name, relation in tracker.schema.relations.items()
        if name.startswith(PREFIX)
    }
    actual: dict[str, dict[str, bool] | None] = {}
    with connection.cursor() as cursor:
        for info in connection.introspection.get_table_list(cursor):
            if not info.name.startswith(PREFIX):
                continue
            if info.type == "v" or derived.get(info.name, {}) is None:
                actual[info.name] = None
                continue
            description = connection.introspection.get_table_description(cursor, info.name)
            actual[info.name] = {c.name: bool(c.null_ok) for c in description}
    if derived != actual:
        lines = [
            f"  {name}: derived {derived.get(name, 'missing')}, "
            f"database {actual.get(name, 'missing')}"
            for name in sorted(derived.keys() | actual.keys())
            if derived.get(name, "missing") != actual.get(name, "missing")
        ]
        raise FuzzFailure(
            f"{when}: the schema the proof derives differs from the database's:\n"
            + "\n".join(lines)
        )


def stage(play: Project, name: str, again: bool = False) -> None:
    """Apply one deploy stage; any error is a failure."""
    when = " (again, after migrating back)" if again else ""
    try:
        command("migrate", APP_LABEL, stage=name)
    except Exception as error:
        leaked = " It left the connection in an aborted transaction." if recover() else ""
        raise FuzzFailure(f"migrate --stage {name}{when} failed: {error!r}.{leaked}") from error


def recover() -> bool:
    """Roll back a transaction a failed command left open; return whether there was one.

    Without this, every later query of the process fails ("current
    transaction is aborted"), so every later example would too. A command
    that leaves Django's atomic block open (FUZZ finding F13) gets its
    bookkeeping reset as well: the harness, not the package, owns this
    connection between examples.
    """
    raw = connection.connection
    if raw is None:
        return False
    leaked = connection.in_atomic_block
    if connection.vendor == "postgresql":
        from psycopg.pq import TransactionStatus

        leaked = leaked or raw.info.transaction_status == TransactionStatus.INERROR
    if not leaked:
        return False
    raw.rollback()
    if connection.in_atomic_block:
        connection.in_atomic_block = False
        connection.needs_rollback = False
        connection.savepoint_ids = []
        connection.atomic_blocks = []
        connection.commit_on_exit = True
        connection.set_autocommit(True)
    return True


def play(root: Path, scenario: Scenario) -> Outcome:
    """Play scenario with stock Django then with the package (see the module docstring)."""
    expected = play_stock(root, scenario)
    return play_green(root, scenario, expected)


def reproduction(scenario: Scenario, backend: str) -> str:
    """Return how to reproduce a failing scenario by hand."""
    return (
        f"{scenario.describe()}\n"
        f"# backend: {backend}. Install release N's models, `makemigrations fz` and `migrate fz`;\n"
        "# install each run's models and `makemigrations fz --noinput`\n"
        "# (confirm the listed renames);\n"
        "# `migrate fz --stage pre-deploy`, then `migrate fz --stage post-deploy`;\n"
        "# compare with `makemigrations --stock` + `migrate` from scratch.\n"
    )


__all__ = ["FuzzFailure", "StockCannot", "play", "reproduction", "timezone"]
