"""Unique constraints added to an existing table, beyond a UniqueConstraint on plain fields.

AddUniqueConstraintConcurrently with condition, expressions, include,
opclasses, nulls_distinct or deferrable; AlterFieldUniqueConcurrently
(``unique=True`` added to a field); AlterUniqueTogetherConcurrently. Each
operation is applied to a real table between two ProjectStates, forwards,
again (a re-run), backwards and again, on every backend. On PostgreSQL the
unique index is built ``CONCURRENTLY``, and the schema it leaves is the one
Django's own operation leaves (same names, so later stock operations find
what they look for); elsewhere it is Django's operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, migrations, models, transaction
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.functions import Lower
from django.test.utils import CaptureQueriesContext

from green_makemigrations.operations import (
    AddUniqueConstraintConcurrently,
    AlterFieldUniqueConcurrently,
    AlterUniqueTogetherConcurrently,
)

from .utils import app_with_history, execute, select

APP = "green_uq"
TABLE = "green_uq_item"
POSTGRESQL = connection.vendor == "postgresql"
only_postgresql = pytest.mark.skipif(not POSTGRESQL, reason="a PostgreSQL-only option")


def item_fields() -> list[tuple[str, models.Field[Any, Any]]]:
    return [
        ("id", models.AutoField(primary_key=True)),
        ("code", models.CharField(max_length=10)),
        ("name", models.CharField(max_length=10, db_index=True)),
        ("n", models.IntegerField(null=True)),
        ("active", models.BooleanField(default=True)),
    ]


@pytest.fixture
def state(transactional_db: None) -> Iterator[ProjectState]:
    """Create the table of release N's Item; yield its state; drop it."""
    create = migrations.CreateModel("Item", item_fields())
    before = ProjectState()
    after = before.clone()
    create.state_forwards(APP, after)
    with connection.schema_editor() as editor:
        create.database_forwards(APP, editor, before, after)
    try:
        yield after
    finally:
        quote = connection.ops.quote_name
        execute(f"DROP TABLE IF EXISTS {quote(TABLE)}")


def forwards(operation: Operation, state: ProjectState) -> tuple[ProjectState, list[str]]:
    """Apply operation to the table outside a transaction; return the new state and SQL."""
    new_state = state.clone()
    operation.state_forwards(APP, new_state)
    with CaptureQueriesContext(connection) as queries:
        with connection.schema_editor(atomic=False) as editor:
            operation.database_forwards(APP, editor, state, new_state)
    return new_state, [query["sql"] for query in queries.captured_queries]


def backwards(operation: Operation, state: ProjectState, new_state: ProjectState) -> list[str]:
    """Undo operation (from new_state back to state); return the SQL."""
    with CaptureQueriesContext(connection) as queries:
        with connection.schema_editor(atomic=False) as editor:
            operation.database_backwards(APP, editor, new_state, state)
    return [query["sql"] for query in queries.captured_queries]


def collected(operation: Operation, state: ProjectState) -> list[str]:
    """Return what sqlmigrate shows for operation."""
    new_state = state.clone()
    operation.state_forwards(APP, new_state)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        operation.database_forwards(APP, editor, state, new_state)
    return list(editor.collected_sql)


def schema() -> dict[str, tuple[Any, ...]]:
    """Return the table's constraints and indexes (not the primary key), by name."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, TABLE)
    return {
        name: (tuple(info["columns"]), info["unique"], info["index"], info["check"])
        for name, info in found.items()
        if not info["primary_key"] and not info["check"]
    }


def unique_names() -> set[str]:
    return {name for name, (_, unique, _, _) in schema().items() if unique}


def insert(code: str, name: str = "x", n: int | None = None, active: bool = True) -> None:
    execute(
        f"INSERT INTO {TABLE} (code, name, n, active) VALUES (%s, %s, %s, %s)",
        (code, name, n, active),
    )


class _Undo(Exception):
    """Rolls the probe row back."""


def rejects(code: str, name: str = "x", n: int | None = None, active: bool = True) -> bool:
    """Return whether the table refuses the row (the row is not kept either way)."""
    try:
        with transaction.atomic():
            insert(code, name, n, active)
            raise _Undo
    except IntegrityError:
        return True
    except _Undo:
        return False


def stock_schema(stock: Operation, state: ProjectState) -> dict[str, tuple[Any, ...]]:
    """Return the schema Django's own operation leaves, then undo it."""
    new_state, _ = forwards(stock, state)
    try:
        return schema()
    finally:
        backwards(stock, state, new_state)


# -- AddUniqueConstraintConcurrently beyond plain fields ------------------------


def supported(constraint: models.UniqueConstraint, state: ProjectState) -> bool:
    """Return whether Django creates the constraint on this database at all."""
    model = state.apps.get_model(APP, "Item")
    with connection.schema_editor(collect_sql=True) as editor:
        return constraint.create_sql(model, editor) is not None


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda: models.UniqueConstraint(
                fields=["code"], condition=models.Q(active=True), name="item_code_active"
            ),
            id="condition",
        ),
        pytest.param(
            lambda: models.UniqueConstraint(Lower("code"), name="item_lower_code"),
            id="expressions",
        ),
    ],
)
def test_unique_index_is_built_concurrently_and_dropped(make: Any, state: ProjectState) -> None:
    constraint = make()
    operation = AddUniqueConstraintConcurrently("item", constraint)
    if not supported(constraint, state):
        # MariaDB has neither partial nor expression indexes: Django skips it, so do we.
        new_state, sql = forwards(operation, state)
        assert unique_names() == set()
        backwards(operation, state, new_state)
        return
    stock = stock_schema(migrations.AddConstraint("item", make()), state)
    insert("a", active=False)
    insert("b")
    new_state, sql = forwards(operation, state)
    assert schema() == stock
    assert constraint.name in unique_names()
    assert rejects("b") and rejects("B") is (constraint.name == "item_lower_code")
    if POSTGRESQL:
        assert [s for s in sql if "UNIQUE INDEX" in s] == [
            s for s in sql if s.startswith(f'CREATE UNIQUE INDEX CONCURRENTLY "{constraint.name}"')
        ]
        assert len([s for s in sql if "UNIQUE INDEX" in s]) == 1
        assert not any("ADD CONSTRAINT" in s for s in sql)
    # Re-run: nothing to do, nothing fails.
    forwards(operation, state)
    assert schema() == stock

    sql = backwards(operation, state, new_state)
    assert unique_names() == set()
    if POSTGRESQL:
        assert f'DROP INDEX CONCURRENTLY IF EXISTS "{constraint.name}"' in sql
    backwards(operation, state, new_state)  # re-run
    assert not rejects("b")


@only_postgresql
def test_an_invalid_partial_unique_index_is_rebuilt(state: ProjectState) -> None:
    constraint = models.UniqueConstraint(
        fields=["code"], condition=models.Q(active=True), name="item_code_active"
    )
    insert("a")
    insert("a")
    with pytest.raises(IntegrityError):
        execute(
            f'CREATE UNIQUE INDEX CONCURRENTLY "item_code_active" ON {TABLE} (code) WHERE active'
        )
    assert select(
        "SELECT indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = 'item_code_active'"
    ) == [(False,)]
    execute(f"UPDATE {TABLE} SET active = false WHERE id = (SELECT MAX(id) FROM {TABLE})")
    forwards(AddUniqueConstraintConcurrently("item", constraint), state)
    assert select(
        "SELECT indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = 'item_code_active'"
    ) == [(True,)]
    assert rejects("a")


@only_postgresql
@pytest.mark.parametrize(
    ("make", "attached"),
    [
        pytest.param(
            lambda: models.UniqueConstraint(fields=["n"], name="item_n", nulls_distinct=False),
            True,
            id="nulls_distinct",
        ),
        pytest.param(
            lambda: models.UniqueConstraint(
                fields=["n"], name="item_n", deferrable=models.Deferrable.DEFERRED
            ),
            True,
            id="deferrable",
        ),
        pytest.param(
            lambda: models.UniqueConstraint(fields=["n"], name="item_n", include=["code"]),
            False,
            id="include",
        ),
        pytest.param(
            lambda: models.UniqueConstraint(
                fields=["code"], name="item_n", opclasses=["varchar_pattern_ops"]
            ),
            False,
            id="opclasses",
        ),
    ],
)
def test_postgresql_options(make: Any, attached: bool, state: ProjectState) -> None:
    """Options Django keeps in a constraint are attached; the others stay an index."""
    query = "SELECT contype, condeferrable FROM pg_constraint WHERE conname = 'item_n'"
    stock_operation = migrations.AddConstraint("item", make())
    stock_state, _ = forwards(stock_operation, state)
    stock, stock_constraint = schema(), select(query)
    backwards(stock_operation, state, stock_state)

    operation = AddUniqueConstraintConcurrently("item", make())
    new_state, sql = forwards(operation, state)
    assert any(s.startswith('CREATE UNIQUE INDEX CONCURRENTLY "item_n"') for s in sql)
    assert any("UNIQUE USING INDEX" in s for s in sql) is attached
    assert schema() == stock
    assert select(query) == stock_constraint
    assert bool(stock_constraint) is attached
    if make().nulls_distinct is False:
        insert("a")
        assert rejects("b")  # a second NULL
    forwards(operation, state)  # re-run
    backwards(operation, state, new_state)
    assert "item_n" not in schema()
    backwards(operation, state, new_state)  # re-run


# -- AlterFieldUniqueConcurrently ---------------------------------------------


@pytest.mark.parametrize(
    ("field_name", "field"),
    [
        pytest.param("code", lambda: models.CharField(max_length=10, unique=True), id="plain"),
        pytest.param(
            "name",
            lambda: models.CharField(max_length=20, db_index=True, unique=True),
            id="indexed-and-longer",
        ),
        pytest.param("n", lambda: models.IntegerField(null=True, unique=True), id="integer"),
    ],
)
def test_field_made_unique(field_name: str, field: Any, state: ProjectState) -> None:
    stock = stock_schema(migrations.AlterField("item", field_name, field()), state)
    insert("a", "a", 1)
    operation = AlterFieldUniqueConcurrently("item", field_name, field())
    new_state, sql = forwards(operation, state)
    assert schema() == stock
    assert rejects("a", "a", 1)
    if POSTGRESQL:
        assert any(s.startswith("CREATE UNIQUE INDEX CONCURRENTLY") for s in sql)
        assert any("UNIQUE USING INDEX" in s for s in sql)
        # Every index is built concurrently; no ADD CONSTRAINT ... UNIQUE (...).
        builds = [x for x in sql if x.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))]
        assert all(" CONCURRENTLY " in x for x in builds), sql
        assert not any(" UNIQUE (" in x for x in sql), sql
    forwards(operation, state)  # re-run
    assert schema() == stock

    # A later release dropping unique=True (Django's AlterField) finds the constraint.
    later = migrations.AlterField(
        "item", field_name, state.models[APP, "item"].fields[field_name].clone()
    )
    after_later, _ = forwards(later, new_state)
    assert not rejects("a", "a", 1)
    backwards(later, new_state, after_later)
    assert schema() == stock

    backwards(operation, state, new_state)
    assert unique_names() == set()
    assert not rejects("a", "a", 1)


@only_postgresql
def test_field_made_unique_under_sqlmigrate(state: ProjectState) -> None:
    sql = collected(
        AlterFieldUniqueConcurrently(
            "item", "name", models.CharField(max_length=10, db_index=True, unique=True)
        ),
        state,
    )
    text = "\n".join(sql)
    assert 'CREATE UNIQUE INDEX CONCURRENTLY "green_uq_item_name_' in text
    assert '_uniq" UNIQUE USING INDEX' in text
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "green_uq_item_name_' in text


def test_field_made_unique_elsewhere_is_django_s(state: ProjectState) -> None:
    operation = AlterFieldUniqueConcurrently(
        "item", "code", models.CharField(max_length=10, unique=True)
    )
    stock = migrations.AlterField("item", "code", models.CharField(max_length=10, unique=True))
    ours_sql = collected(operation, state)
    stock_sql = collected(stock, state)
    if POSTGRESQL:
        assert ours_sql != stock_sql
    else:
        assert ours_sql == stock_sql


# -- AlterUniqueTogetherConcurrently ------------------------------------------


def test_unique_together_added_changed_and_undone(state: ProjectState) -> None:
    first = AlterUniqueTogetherConcurrently("item", {("code", "name")})
    stock = stock_schema(migrations.AlterUniqueTogether("item", {("code", "name")}), state)
    insert("a", "a")
    one, sql = forwards(first, state)
    assert schema() == stock
    assert rejects("a", "a") and not rejects("a", "b")
    if POSTGRESQL:
        assert any(s.startswith("CREATE UNIQUE INDEX CONCURRENTLY") for s in sql)
        assert any("UNIQUE USING INDEX" in s for s in sql)
    forwards(first, state)  # re-run
    assert schema() == stock

    # Replace the set: one added concurrently, the old one dropped by Django.
    second = AlterUniqueTogetherConcurrently("item", {("code", "n")})
    stock_two = stock_schema(migrations.AlterUniqueTogether("item", {("code", "n")}), one)
    two, _ = forwards(second, one)
    assert schema() == stock_two
    forwards(second, one)  # re-run: added and dropped already
    assert schema() == stock_two
    assert not rejects("a", "a", 5)
    insert("c", "c", 7)
    assert rejects("c", "d", 7)
    backwards(second, one, two)
    assert schema() == stock
    backwards(first, state, one)
    assert unique_names() == set()
    assert not rejects("a", "a")


def test_unique_together_under_sqlmigrate(state: ProjectState) -> None:
    sql = collected(AlterUniqueTogetherConcurrently("item", {("code", "name")}), state)
    text = "\n".join(sql)
    if POSTGRESQL:
        assert "CREATE UNIQUE INDEX CONCURRENTLY" in text
        assert "UNIQUE USING INDEX" in text
    else:
        assert sql == collected(migrations.AlterUniqueTogether("item", {("code", "name")}), state)


# -- through makemigrations and migrate ----------------------------------------------

MORE_APP = "unique_more_app"
MORE_TABLE = "unique_more_app_item"
MORE_INITIAL = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.CharField(max_length=10)),
                ("name", models.CharField(max_length=10)),
                ("n", models.IntegerField()),
            ],
        ),
    ]
"""


@pytest.fixture
def more_previous_release(tmp_path: Path, transactional_db: None) -> Iterator[Path]:
    """Install unique_more_app with a migrations package holding the previous release."""
    with app_with_history(tmp_path, MORE_APP, MORE_INITIAL) as migrations_dir:
        yield migrations_dir


def more_unique() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, MORE_TABLE)
    return {
        name: info["columns"]
        for name, info in found.items()
        if info["unique"] and not info["primary_key"]
    }


def test_unique_field_and_unique_together_through_the_commands(
    more_previous_release: Path,
) -> None:
    execute(f"INSERT INTO {MORE_TABLE} (code, name, n) VALUES ('a', 'x', 1), ('b', 'x', 2)")
    call_command("makemigrations", MORE_APP, interactive=False, verbosity=0)
    [written] = sorted(more_previous_release.glob("0002_*.py"))
    text = written.read_text()
    assert "green_makemigrations.operations.AlterFieldUniqueConcurrently(" in text
    assert "green_makemigrations.operations.AlterUniqueTogetherConcurrently(" in text
    assert "    stage = Stage.PRE_DEPLOY\n" in text
    assert "    atomic = False\n" in text

    out = call_command("sqlmigrate", MORE_APP, written.stem)
    if POSTGRESQL:
        assert out.count("CREATE UNIQUE INDEX CONCURRENTLY") == 2
        assert out.count("UNIQUE USING INDEX") == 2

    call_command("migrate", MORE_APP, stage="pre-deploy", verbosity=0)
    assert sorted(more_unique().values()) == [["code"], ["name", "n"]]
    for row in ("('a', 'y', 3)", "('c', 'x', 1)"):
        with pytest.raises(IntegrityError), transaction.atomic():
            execute(f"INSERT INTO {MORE_TABLE} (code, name, n) VALUES {row}")

    call_command("migrate", MORE_APP, "0001", verbosity=0)
    assert more_unique() == {}
