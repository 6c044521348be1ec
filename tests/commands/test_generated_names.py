"""Odd but legal names through every phasing, with the real commands, forwards and back.

Each case installs a small app whose first migration is release N, writes
release N+1's models.py, runs makemigrations, then both stages, and migrates
back to release N, reading and writing rows through both releases' models
(the ORM quotes names as the running releases do). The names come from one
table: reserved words, mixed case, quotes, spaces, ``;``, ``$`` and
``$green$``, multibyte names at the byte limit and one over, and field names
of 56 and more characters, whose generated ``_retyped`` column would exceed it.

Each phasing runs a small sample by default; GREEN_TEST_ALL_NAMES=1 runs
every name through every phasing.

On PostgreSQL, names of the user's own that Django's names overflow (a
column over 63 bytes, or multibyte table and column names whose ``_like``
index name Django makes past 63 bytes) work in every phasing but one:
Django's own AlterField cannot take ``unique=True`` back, with or without
this package (``test_unique`` says so where it skips).

A name holding the backend's quote character (``"`` on PostgreSQL and
SQLite, a backtick on MariaDB/MySQL) is the one documented exception: Django's
``quote_name()`` does not double it, so Django's own CREATE TABLE fails
before any phasing; ``test_a_quote_character_breaks_django_itself`` pins it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.migrations import AddField, CreateModel, Migration, SeparateDatabaseAndState
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.writer import MigrationWriter
from django.test.utils import extend_sys_path, modify_settings

from green_makemigrations import identifiers
from green_makemigrations.backends import get_backend
from green_makemigrations.sync import ReplaceColumn, SyncRetypedColumn, _ColumnSync

from .utils import columns, execute, select

# (name, what it tries)
NAMES = [
    ("order", "reserved word"),
    ("select", "reserved word"),
    ("group", "reserved word"),
    ("MixedCase", "mixed case"),
    ("it's", "single quote"),
    ('say "hi"', "double quote"),
    ("back`tick", "backtick"),
    ("with space", "space"),
    ("semi;colon", "semicolon"),
    ("pay$", "dollar"),
    ("$green$", "the trigger's dollar-quote tag"),
    ("é" * 31 + "x", "63 bytes, 2-byte characters"),
    ("é" * 32, "64 bytes, one over PostgreSQL's limit"),
    ("数据" * 10 + "数", "63 bytes, 3-byte characters"),
    ("a" * 63, "63 bytes"),
    ("a" * 64, "64 bytes (MariaDB's limit in characters)"),
]
ALL = bool(os.environ.get("GREEN_TEST_ALL_NAMES"))


def names(*sample: str) -> list[Any]:
    """Return the parameters of a phasing: its sample, or every name under GREEN_TEST_ALL_NAMES."""
    return [
        pytest.param(name, id=f"{index:02d}-{reason}")
        for index, (name, reason) in enumerate(NAMES)
        if ALL or name in sample
    ]


def django_names_overflow(table: str, column: str) -> bool:
    """Return whether PostgreSQL cuts the column or an index name Django makes for it."""
    if connection.vendor != "postgresql":
        return False
    editor: Any = connection.schema_editor()
    like = editor._create_index_name(table, [column], suffix="_like")
    return identifiers.stored(connection, column) != column or len(like.encode()) > 63


def breaks_django(name: str) -> bool:
    """Return whether Django's quote_name() makes broken SQL of name on this backend."""
    return get_backend(connection).quote_character in name


@dataclass
class OddApp:
    """An installed app at release N, with release N+1's models on disk."""

    label: str
    migrations: Path
    tables: list[str]

    def model(self, name: str, migration: str | None = None) -> Any:
        """Return a model: as it is after migration, or release N+1's."""
        if migration is None:
            return apps.get_model(self.label, name)
        loader = MigrationLoader(connection)
        state = loader.project_state((self.label, migration), at_end=True)
        return state.apps.get_model(self.label, name)

    def make(self, *, count: int = 2) -> list[str]:
        """Run makemigrations (saying yes to renames); return the migrations written."""
        call_command("makemigrations", self.label, interactive=True, verbosity=0)
        written = sorted(p.stem for p in self.migrations.glob("000[2-9]_*.py"))
        assert len(written) == count, written
        call_command("makemigrations", self.label, check=True, dry_run=True, verbosity=0)
        return written

    def migrate(self, *args: str, **options: Any) -> None:
        """Run migrate on the app."""
        call_command("migrate", self.label, *args, verbosity=0, **options)

    def triggers(self) -> int:
        """Return how many triggers the app's tables have."""
        if connection.vendor == "postgresql":
            sql = (
                "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname = ANY(%s)"
            )
            return int(
                select(sql, ([identifiers.stored(connection, t) for t in self.tables],))[0][0]
            )
        if connection.vendor == "mysql":
            sql = (
                "SELECT COUNT(*) FROM information_schema.triggers "
                "WHERE trigger_schema = DATABASE() AND event_object_table IN %s"
            )
            return int(select(sql, (tuple(self.tables),))[0][0])
        marks = ", ".join(["%s"] * len(self.tables))
        sql = f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks})"
        return int(select(sql, tuple(self.tables))[0][0])


@contextmanager
def odd_app(
    directory: Path, initial: list[Any], models_source: str, tables: list[str]
) -> Iterator[OddApp]:
    """Install an app whose 0001 migration holds initial and whose models.py is models_source.

    The app and its package get a new name each time (the app registry keeps
    models by app label); tables (and views) are dropped afterwards whatever
    state the test left them in.
    """
    label = f"gn_{uuid.uuid4().hex[:12]}"
    package = directory / label
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").touch()
    (package / "migrations" / "__init__.py").touch()
    migration = Migration("0001_initial", label)
    migration.initial = True
    migration.operations = initial
    text = MigrationWriter(migration).as_string()
    (package / "migrations" / "0001_initial.py").write_text(text, encoding="utf-8")
    (package / "models.py").write_text(
        "from django.db import models\n\n\n" + models_source, encoding="utf-8"
    )
    with extend_sys_path(str(directory)), modify_settings(INSTALLED_APPS={"append": label}):
        app = OddApp(label, package / "migrations", tables)
        try:
            yield app
        finally:
            _drop(app)


def _drop(app: OddApp) -> None:
    with connection.cursor() as cursor:
        kinds = {info.name: info.type for info in connection.introspection.get_table_list(cursor)}
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        for table in app.tables:
            kind = kinds.get(identifiers.stored(connection, table))
            if kind is None:
                continue
            statement = "DROP VIEW" if kind == "v" else "DROP TABLE"
            cascade = " CASCADE" if kind != "v" and connection.vendor == "postgresql" else ""
            cursor.execute(f"{statement} {identifiers.quote(connection, table)}{cascade}")
    MigrationRecorder(connection).migration_qs.filter(app=app.label).delete()


def q(name: str) -> str:
    """Return name quoted as an identifier (any quote character doubled)."""
    return identifiers.quote(connection, name)


def stored(*names: str) -> set[str]:
    """Return the names the database stores for names."""
    return {identifiers.stored(connection, name) for name in names}


def insert(table: str, column: str, value: Any) -> None:
    """Insert a row with column set to value, in SQL (Django's PostgreSQL ORM refuses ``$``)."""
    execute(f"INSERT INTO {q(table)} ({q(column)}) VALUES (%s)", (value,))


def update(table: str, column: str, old: Any, new: Any) -> None:
    """Set column to new where it is old."""
    execute(f"UPDATE {q(table)} SET {q(column)} = %s WHERE {q(column)} = %s", (new, old))


def values(table: str, *names: str) -> list[tuple[Any, ...]]:
    """Return the values of the columns names in every row, sorted."""
    return sorted(select(f"SELECT {', '.join(q(n) for n in names)} FROM {q(table)}"))


def field_type(table: str, column: str) -> str:
    """Return the Django field type introspection gives a column."""
    info = columns(table)[identifiers.stored(connection, column)]
    return str(connection.introspection.get_field_type(info.type_code, info))


def model_source(name: str, fields: dict[str, str], table: str, extra: str = "") -> str:
    """Return the source of a model class of release N+1."""
    lines = [f"class {name}(models.Model):", "    id = models.AutoField(primary_key=True)"]
    lines += [f"    {field} = {definition}" for field, definition in fields.items()]
    lines += ["", "    class Meta:", f"        db_table = {table!r}"]
    lines += [f"        {extra}"] if extra else []
    return "\n".join(lines) + "\n\n\n"


def create(name: str, fields: list[tuple[str, Any]], table: str, **options: Any) -> CreateModel:
    """Return the CreateModel of release N's model."""
    return CreateModel(
        name,
        [("id", models.AutoField(primary_key=True, serialize=False)), *fields],
        options={"db_table": table, **options},
    )


# ---------------------------------------------------------------------------
# Type changes: int to bigint, with db_column, on an odd table, long field names


RETYPE_SAMPLE = ("$green$",)


def _retype(tmp_path: Path, field: str, column: str | None, table: str) -> None:
    initial = [create("Thing", [(field, models.IntegerField(db_column=column))], table)]
    keyword = "" if column is None else f"db_column={column!r}"
    source = model_source("Thing", {field: f"models.BigIntegerField({keyword})"}, table)
    real = column or field
    with odd_app(tmp_path, initial, source, [table]) as app:
        app.migrate()
        insert(table, real, 1)
        insert(table, real, 2)
        # The new column (atomic), its sync, then the swap (both outside a transaction).
        _add, sync, post = app.make(count=3)
        text = (app.migrations / f"{sync}.py").read_text(encoding="utf-8")
        assert "SyncRetypedColumn(" in text

        app.migrate(stage="pre-deploy")
        # The replacement has a column of its own, which fits every backend.
        added = set(columns(table)) - stored("id", real)
        assert len(added) == 1, added
        [shadow] = added
        assert len(shadow.encode()) <= identifiers.PORTABLE_MAX_BYTES
        insert(table, real, 3)
        update(table, real, 2, 20)
        assert values(table, real, shadow) == [(1, 1), (3, 3), (20, 20)]

        app.migrate(stage="post-deploy")
        # A run that swapped them and stopped before recording it: the re-run
        # finds the swap done under the names the database stored.
        MigrationRecorder(connection).migration_qs.filter(app=app.label, name=post).delete()
        app.migrate(stage="post-deploy")
        assert set(columns(table)) == stored("id", real)
        assert field_type(table, real) == "BigIntegerField"
        assert app.triggers() == 0
        assert values(table, real) == [(1,), (3,), (20,)]
        insert(table, real, 2**40)
        assert values(table, real)[-1] == (2**40,)

        execute(f"DELETE FROM {q(table)} WHERE {q(real)} = %s", (2**40,))
        app.migrate("0001")
        assert set(columns(table)) == stored("id", real)
        assert field_type(table, real) == "IntegerField"
        assert app.triggers() == 0
        assert values(table, real) == [(1,), (3,), (20,)]


@pytest.mark.parametrize("name", names(*RETYPE_SAMPLE))
def test_type_change_of_a_field_with_db_column(
    name: str, tmp_path: Path, transactional_db: None
) -> None:
    """The issue's data loss: db_column kept by the replacement, then dropped with it."""
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    _retype(tmp_path, "amount", name, "gn_thing")


@pytest.mark.parametrize("name", names("MixedCase"))
def test_type_change_on_an_odd_table(name: str, tmp_path: Path, transactional_db: None) -> None:
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    _retype(tmp_path, "amount", None, name)


@pytest.mark.parametrize(
    "field",
    [
        "数据" * 10 + "_value",  # 66 bytes
        *(
            ["f" * 56, "g" * 60, "é" * 28]  # é * 28: 56 bytes, with _retyped past the limit
            if ALL
            else []
        ),
    ],
)
def test_type_change_of_a_long_field_name(
    field: str, tmp_path: Path, transactional_db: None
) -> None:
    """The issue's names: ``<name>_retyped`` past 63 bytes is fitted, not cut by PostgreSQL."""
    _retype(tmp_path, field, None, "gn_thing")


def test_a_quote_character_breaks_django_itself(tmp_path: Path, transactional_db: None) -> None:
    """Django's quote_name() does not double the backend's quote character: documented limit."""
    name = f"a{get_backend(connection).quote_character}b"
    initial = [create("Thing", [("amount", models.IntegerField(db_column=name))], "gn_thing")]
    with odd_app(tmp_path, initial, "", ["gn_thing"]) as app:
        with pytest.raises(DatabaseError):
            app.migrate()
        # The package's own quoting gets it right.
        [(value,)] = select(f"SELECT 1 AS {identifiers.quote(connection, name)}")
        assert value == 1


# ---------------------------------------------------------------------------
# Field renames: the new column gets the old one's values through triggers


def usable_field_name(name: str) -> bool:
    """Return whether name can be a model field's name (and so a natural column)."""
    return name.isidentifier() and "__" not in name and not name.endswith("_") and name != "pk"


@pytest.mark.parametrize("name", names("é" * 32))
def test_field_rename(
    name: str, tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is the new field's (and column's) name, or else the table's."""
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # yes, renamed
    new, table = (name, "gn_thing") if usable_field_name(name) else ("headline", name)
    initial = [create("Thing", [("title", models.IntegerField())], table)]
    source = model_source("Thing", {new: "models.IntegerField()"}, table)
    with odd_app(tmp_path, initial, source, [table]) as app:
        app.migrate()
        insert(table, "title", 1)
        # Pre-deploy: the new column, then its sync; post-deploy: the sync
        # stopped, the old column dropped, the new one made NOT NULL.
        sync = app.make(count=5)[1]
        assert "SyncRenamedColumns(" in (app.migrations / f"{sync}.py").read_text("utf-8")

        app.migrate(stage="pre-deploy")
        assert values(table, "title", new) == [(1, 1)]
        insert(table, "title", 2)  # release N
        insert(table, new, 3)  # release N+1
        update(table, new, 1, 10)
        assert values(table, "title", new) == [(2, 2), (3, 3), (10, 10)]

        app.migrate(stage="post-deploy")
        assert set(columns(table)) == stored("id", new)
        assert app.triggers() == 0
        assert values(table, new) == [(2,), (3,), (10,)]

        app.migrate("0001")
        assert set(columns(table)) == stored("id", "title")
        assert app.triggers() == 0
        assert values(table, "title") == [(2,), (3,), (10,)]


# ---------------------------------------------------------------------------
# A table's new name: a view under the old one until post-deploy


@pytest.mark.parametrize("name", names("semi;colon"))
def test_table_rename(name: str, tmp_path: Path, transactional_db: None) -> None:
    """The odd name is the old table's, which a view keeps, and a column's."""
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    initial = [create("Thing", [("amount", models.IntegerField(db_column=name))], name)]
    source = model_source("Thing", {"amount": f"models.IntegerField(db_column={name!r})"}, "gn_new")
    with odd_app(tmp_path, initial, source, [name, "gn_new"]) as app:
        app.migrate()
        insert(name, name, 1)
        app.make()

        app.migrate(stage="pre-deploy")
        insert(name, name, 2)  # release N, through the view
        insert("gn_new", name, 3)  # release N+1
        update(name, name, 1, 10)
        assert values(name, name) == values("gn_new", name) == [(2,), (3,), (10,)]

        app.migrate(stage="post-deploy")
        assert identifiers.stored(connection, name) not in tables_and_views()
        assert values("gn_new", name) == [(2,), (3,), (10,)]

        app.migrate("0001")
        assert identifiers.stored(connection, "gn_new") not in tables_and_views()
        assert values(name, name) == [(2,), (3,), (10,)]


def tables_and_views() -> set[str]:
    """Return the names of the tables and views of the database."""
    with connection.cursor() as cursor:
        return {info.name for info in connection.introspection.get_table_list(cursor)}


# ---------------------------------------------------------------------------
# Indexes, unique constraints and foreign keys on odd columns and tables


def constraints(table: str) -> dict[str, Any]:
    """Return the introspected constraints and indexes of table, by name."""
    with connection.cursor() as cursor:
        return dict(connection.introspection.get_constraints(cursor, table))


def on_column(table: str, column: str, kind: str) -> list[str]:
    """Return the names of table's constraints of kind ("index", "unique", "foreign_key")."""
    column = identifiers.stored(connection, column)
    return [
        name
        for name, info in constraints(table).items()
        if info["columns"] == [column] and info[kind] and not info["primary_key"]
    ]


def index_name(name: str) -> str:
    """Return an index name holding name (Django allows 30 characters; a table has name)."""
    return f"ix {name}"[:30]


@pytest.mark.parametrize("name", names("select"))
def test_index(name: str, tmp_path: Path, transactional_db: None) -> None:
    """The name is the table's, the column's and the index's."""
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    initial = [create("Thing", [("amount", models.IntegerField(db_column=name))], name)]
    index = f"indexes = [models.Index(fields=['amount'], name={index_name(name)!r})]"
    field = f"models.IntegerField(db_column={name!r})"
    source = model_source("Thing", {"amount": field}, name, extra=index)
    with odd_app(tmp_path, initial, source, [name]) as app:
        app.migrate()
        insert(name, name, 1)
        [pre] = app.make(count=1)
        assert "AddIndexConcurrently(" in (app.migrations / f"{pre}.py").read_text("utf-8")
        app.migrate()
        assert on_column(name, name, "index") == [identifiers.stored(connection, index_name(name))]
        app.migrate("0001")
        assert on_column(name, name, "index") == []
        assert values(name, name) == [(1,)]


@pytest.mark.parametrize("name", names("it's"))
def test_unique(name: str, tmp_path: Path, transactional_db: None) -> None:
    """The name is the table's and the column's; the field becomes unique."""
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    if django_names_overflow(name, name):
        pytest.skip(
            "Django's own AlterField cannot undo unique=True here: it looks the constraint "
            "up by a column name the database cut, or drops its _like index by a name "
            "it made longer than 63 bytes, which the database cuts to the table's name"
        )
    initial = [create("Thing", [("amount", models.IntegerField(db_column=name))], name)]
    field = f"models.IntegerField(db_column={name!r}, unique=True)"
    source = model_source("Thing", {"amount": field}, name)
    with odd_app(tmp_path, initial, source, [name]) as app:
        app.migrate()
        insert(name, name, 1)
        app.make(count=1)
        app.migrate()
        assert on_column(name, name, "unique")
        with pytest.raises(IntegrityError), transaction.atomic():
            insert(name, name, 1)
        app.migrate("0001")
        assert not on_column(name, name, "unique")
        insert(name, name, 1)
        assert values(name, name) == [(1,), (1,)]


@pytest.mark.parametrize("name", names("a" * 64))
def test_foreign_key(name: str, tmp_path: Path, transactional_db: None) -> None:
    """The name is the referenced table's and the new foreign key's column."""
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    initial = [
        create("Owner", [], name),
        create("Thing", [("amount", models.IntegerField())], "gn_thing"),
    ]
    owner = model_source("Owner", {}, name)
    fk = f"models.ForeignKey(Owner, models.CASCADE, null=True, db_column={name!r})"
    source = owner + model_source(
        "Thing", {"amount": "models.IntegerField()", "owner": fk}, "gn_thing"
    )
    with odd_app(tmp_path, initial, source, ["gn_thing", name]) as app:
        app.migrate()
        execute(f"INSERT INTO {q(name)} ({q('id')}) VALUES (1)")
        insert("gn_thing", "amount", 1)
        app.make(count=1)
        app.migrate()
        assert on_column("gn_thing", name, "foreign_key")
        execute(f"UPDATE {q('gn_thing')} SET {q(name)} = 1")
        if connection.vendor != "sqlite":  # SQLite checks foreign keys at commit
            with pytest.raises(IntegrityError), transaction.atomic():
                execute(f"UPDATE {q('gn_thing')} SET {q(name)} = 2")
        app.migrate("0001")
        assert set(columns("gn_thing")) == stored("id", "amount")
        assert values("gn_thing", "amount") == [(1,)]


# ---------------------------------------------------------------------------
# Model renames: the table takes the new model's name, a view keeps the old one


@pytest.mark.parametrize("name", names("数据" * 10 + "数"))
def test_model_rename(
    name: str, tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is the new model's (its table's name derives from it) or else a column's."""
    if breaks_django(name):
        pytest.skip("covered by test_a_quote_character_breaks_django_itself")
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # yes, renamed
    model, column = (name, "amount") if name.isidentifier() else ("Renamed", name)
    initial = [
        CreateModel(
            "Thing",
            [
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("amount", models.IntegerField(db_column=column)),
            ],
        )
    ]
    field = f"models.IntegerField(db_column={column!r})"
    source = "\n".join(
        [
            f"class {model}(models.Model):",
            "    id = models.AutoField(primary_key=True)",
            f"    amount = {field}",
            "",
        ]
    )
    with odd_app(tmp_path, initial, source, []) as app:
        old = f"{app.label}_thing"
        new = str(app.model(model)._meta.db_table)
        app.tables += [old, new]
        app.migrate()
        insert(old, column, 1)
        from django.db.migrations.autodetector import MigrationAutodetector
        from django.db.migrations.state import ProjectState

        loader = MigrationLoader(connection)
        fs = loader.project_state()
        ts = ProjectState.from_apps(apps)
        ad = MigrationAutodetector(fs, ts)
        for k, m in fs.models.items():
            if k[0] == app.label:
                print("FROM", k, ad.only_relation_agnostic_fields(m.fields))
        for k, m in ts.models.items():
            if k[0] == app.label:
                print("TO", k, ad.only_relation_agnostic_fields(m.fields))
        pre = app.make()[0]
        assert "RenameModelWithViews(" in (app.migrations / f"{pre}.py").read_text("utf-8")

        app.migrate(stage="pre-deploy")
        # A run that stopped before recording it: the re-run sees the renamed
        # table under the name the database stored, and finishes.
        MigrationRecorder(connection).migration_qs.filter(app=app.label, name=pre).delete()
        app.migrate(stage="pre-deploy")
        insert(old, column, 2)  # release N, through the view
        insert(new, column, 3)  # release N+1
        update(old, column, 1, 10)
        assert values(old, column) == values(new, column) == [(2,), (3,), (10,)]

        app.migrate(stage="post-deploy")
        assert identifiers.stored(connection, old) not in tables_and_views()
        assert values(new, column) == [(2,), (3,), (10,)]

        app.migrate("0001")
        assert identifiers.stored(connection, new) not in tables_and_views()
        assert values(old, column) == [(2,), (3,), (10,)]


@pytest.mark.parametrize(
    ("refused_by", "says"), [("SyncRetypedColumn", "Copy"), ("ReplaceColumn", "Replace")]
)
def test_a_replacement_sharing_the_column_written_earlier_is_refused(
    refused_by: str, says: str, tmp_path: Path, transactional_db: None
) -> None:
    """The migrations an earlier release wrote for the issue's case stop before any loss.

    Their replacement has the field's db_column; its add found the column
    there (the issue's PostgreSQL path, here a state-only add), and the swap
    would have dropped the only copy.
    """
    table, column = "gn_thing", "amt"
    initial = [create("Thing", [("amount", models.IntegerField(db_column=column))], table)]
    field = f"models.BigIntegerField(db_column={column!r})"
    source = model_source("Thing", {"amount": field}, table)
    with odd_app(tmp_path, initial, source, [table]) as app:
        app.migrate()
        insert(table, column, 1)
        shadow = models.BigIntegerField(db_column=column, null=True)
        add = SeparateDatabaseAndState(
            state_operations=[AddField("thing", "amount_retyped", shadow)]
        )
        sync = SyncRetypedColumn("thing", "amount", "amount_retyped")
        written: list[list[Any]] = [
            [add, sync] if refused_by == "SyncRetypedColumn" else [add],
            [ReplaceColumn("thing", "amount", "amount_retyped")],
        ]
        previous = "0001_initial"
        for number, operations in enumerate(written, start=2):
            migration = Migration(f"000{number}_retype", app.label)
            migration.dependencies = [(app.label, previous)]
            migration.operations = operations
            path = app.migrations / f"{migration.name}.py"
            path.write_text(MigrationWriter(migration).as_string(), encoding="utf-8")
            previous = migration.name
        with pytest.raises(CommandError, match=f": {says} thing.amount") as raised:
            app.migrate()
        assert "would drop the only copy of its values" in str(raised.value)
        assert set(columns(table)) == stored("id", column)
        assert values(table, column) == [(1,)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL cuts names in bytes")
def test_triggers_named_by_an_earlier_release_are_dropped(
    tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy begun with names cut by PostgreSQL (an earlier release's) is finished."""
    table = "数据" * 10 + "数"
    fields = [("a", models.IntegerField(null=True)), ("b", models.IntegerField(null=True))]
    source = model_source("Thing", {"a": "models.IntegerField(null=True)"}, table)
    with odd_app(tmp_path, [create("Thing", fields, table)], source, [table]) as app:
        app.migrate()
        model = app.model("Thing", "0001_initial")
        with monkeypatch.context() as patched, connection.schema_editor() as editor:
            patched.setattr(_ColumnSync, "_name", _ColumnSync._legacy_name)
            legacy = _ColumnSync(editor, model, "a", "b")
            assert len(legacy.name.encode()) > 63
            legacy.create()
        assert app.triggers() == 1
        with connection.schema_editor() as editor:
            _ColumnSync(editor, model, "a", "b").drop()
        assert app.triggers() == 0
