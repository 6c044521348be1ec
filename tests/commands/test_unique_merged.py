"""A UniqueConstraint on a ``unique=True`` field, removed without the field's uniqueness.

PostgreSQL makes one constraint of a ``unique=True`` field and a
``UniqueConstraint`` on it when one ``CREATE TABLE`` declares both (fuzzer
finding F10): Django's RemoveConstraint then left the field, which the
previous release still declares unique, without a unique index.
RemoveConstraintKeepingFieldUnique renames the shared constraint to the
field's own instead. The cases are generated: field kinds, a ``db_column``,
odd but legal table, column and constraint names, and the two ways the table
may have been built (one CREATE TABLE, or the constraint added later). Each is
applied forwards, again (a re-run), backwards and forwards again on every
backend; the column must refuse a duplicate after each forwards step, and a
later AlterField dropping ``unique`` must find a constraint to drop.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, connection, migrations, models, transaction
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.test.utils import CaptureQueriesContext

from green_makemigrations import identifiers
from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.merged_unique import RemoveConstraintKeepingFieldUnique, merged_field

from .utils import execute

pytestmark = pytest.mark.django_db(transaction=True)
APP = "green_um"
POSTGRESQL = connection.vendor == "postgresql"

KINDS = {
    "char": (lambda: models.CharField(max_length=20, unique=True), ["a", "b"]),
    "int": (lambda: models.IntegerField(unique=True), [1, 2]),
    "uuid": (
        lambda: models.UUIDField(unique=True),
        ["6f1c1f0e-0000-4000-8000-000000000001", "6f1c1f0e-0000-4000-8000-000000000002"],
    ),
}
NAMES = {
    # table, db_column, constraint name
    "plain": ("green_um_item", None, "item_code_uq"),
    # Django cannot quote a name holding the backend's quote character.
    "odd": ("green_um Ítem Order", "Códe select", "uq Ódd-name"),
    "long": ("green_um_" + "t" * 54, "c" * 60, "u" * 63),
}
CASES = list(itertools.product(KINDS, NAMES, ("one_statement", "added_later")))


def model_state(kind: str, names: str, constraint: bool = True) -> ProjectState:
    """Return the state of Item with its unique field, and the constraint if asked."""
    table, column, name = NAMES[names]
    field = KINDS[kind][0]()
    field.db_column = column
    options: dict[str, Any] = {"db_table": table}
    if constraint:
        options["constraints"] = [models.UniqueConstraint(fields=["code"], name=name)]
    state = ProjectState()
    migrations.CreateModel(
        "Item", [("id", models.AutoField(primary_key=True)), ("code", field)], options=options
    ).state_forwards(APP, state)
    return state


def apply(operation: Operation, state: ProjectState, backwards: bool = False) -> ProjectState:
    """Apply operation to the database (or undo it, from its result); return the other state."""
    new_state = state.clone()
    operation.state_forwards(APP, new_state)
    with connection.schema_editor() as editor:
        if backwards:
            operation.database_backwards(APP, editor, new_state, state)
        else:
            operation.database_forwards(APP, editor, state, new_state)
    return new_state


@pytest.fixture(params=CASES, ids=["-".join(case) for case in CASES])
def built(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str, ProjectState]]:
    """Create Item's table with its constraint one way or the other; drop it after."""
    kind, names, how = request.param
    table, _, name = NAMES[names]
    if how == "one_statement":
        state = model_state(kind, names)
        apply(_create_operation(state), ProjectState())
    else:
        bare = model_state(kind, names, constraint=False)
        apply(_create_operation(bare), ProjectState())
        constraint = models.UniqueConstraint(fields=["code"], name=name)
        state = apply(migrations.AddConstraint("item", constraint), bare)
    try:
        yield kind, names, how, state
    finally:
        execute(f"DROP TABLE IF EXISTS {identifiers.quote(connection, table)}")


def _create_operation(state: ProjectState) -> Operation:
    """Return the CreateModel of Item as state has it (one CREATE TABLE)."""
    model = state.models[APP, "item"]
    return migrations.CreateModel("Item", list(model.fields.items()), options=dict(model.options))


def rejects_duplicate(kind: str, names: str) -> bool:
    """Return whether the table refuses a second row with the first row's value."""
    table, column, _ = NAMES[names]
    quote = lambda name: identifiers.quote(connection, name)  # noqa: E731
    value = KINDS[kind][1][0]
    sql = f"INSERT INTO {quote(table)} ({quote(column or 'code')}) VALUES (%s)"
    try:
        with transaction.atomic():
            execute(sql, (value,))
            execute(sql, (value,))
    except IntegrityError:
        return True
    execute(f"DELETE FROM {quote(table)}")
    return False


def unique_constraints(table: str) -> list[str]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return sorted(n for n, info in found.items() if info["unique"] and not info["primary_key"])


def test_the_field_stays_unique_forwards_again_backwards_and_forwards(
    built: tuple[str, str, str, ProjectState],
) -> None:
    kind, names, _, state = built
    table, _, name = NAMES[names]
    operation = RemoveConstraintKeepingFieldUnique("item", name)
    assert rejects_duplicate(kind, names)
    after = apply(operation, state)
    assert rejects_duplicate(kind, names), "the field lost its uniqueness"
    stored = identifiers.stored(connection, name)
    assert stored not in unique_constraints(table)
    assert len(unique_constraints(table)) == 1
    apply(operation, state)  # a re-run after the change committed does nothing
    assert len(unique_constraints(table)) == 1
    apply(operation, state, backwards=True)
    assert stored in unique_constraints(table)
    assert rejects_duplicate(kind, names)
    apply(operation, state)
    assert rejects_duplicate(kind, names)
    assert stored not in unique_constraints(table)
    # A later release drops unique=True: Django finds the field's constraint.
    plain = after.models[APP, "item"].fields["code"].clone()
    plain._unique = False
    apply(migrations.AlterField("item", "code", plain), after)
    assert unique_constraints(table) == []
    assert not rejects_duplicate(kind, names)


def test_renamed_only_where_postgresql_shares_the_index(
    built: tuple[str, str, str, ProjectState],
) -> None:
    """Elsewhere, or where the field has its own, it is Django's drop."""
    _, names, how, state = built
    table, _, name = NAMES[names]
    with CaptureQueriesContext(connection) as queries:
        apply(RemoveConstraintKeepingFieldUnique("item", name), state)
    statements = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ALTER")]
    shared = POSTGRESQL and how == "one_statement"
    renamed = [s for s in statements if "RENAME CONSTRAINT" in s]
    assert renamed if shared else not renamed, statements


# -- the autodetector -----------------------------------------------------------------


def detected(before: ProjectState, after: ProjectState) -> list[Operation]:
    changes = GreenMigrationAutodetector(before, after)._detect_changes()
    return [op for migration in changes.get(APP, []) for op in migration.operations]


def item_state(field: models.Field[Any, Any], constraints: list[Any]) -> ProjectState:
    state = ProjectState()
    migrations.CreateModel(
        "Item",
        [("id", models.AutoField(primary_key=True)), ("code", field)],
        options={"constraints": constraints},
    ).state_forwards(APP, state)
    return state


@pytest.mark.parametrize(
    "constraint, unique, expected",
    [
        (models.UniqueConstraint(fields=["code"], name="uq"), True, True),
        (models.UniqueConstraint(fields=["code"], name="uq"), False, False),
        (
            models.UniqueConstraint(fields=["code"], name="uq", condition=models.Q(code="x")),
            True,
            False,
        ),
        (
            models.UniqueConstraint(
                fields=["code"], name="uq", deferrable=models.Deferrable.DEFERRED
            ),
            True,
            False,
        ),
        (models.UniqueConstraint(fields=["code", "id"], name="uq"), True, False),
    ],
)
def test_the_autodetector_keeps_the_field_unique_only_where_the_index_may_be_shared(
    constraint: models.UniqueConstraint, unique: bool, expected: bool
) -> None:
    before = item_state(models.CharField(max_length=20, unique=unique), [constraint])
    after = item_state(models.CharField(max_length=20, unique=unique), [])
    assert (merged_field(before, APP, "item", "uq") == "code") is expected
    (operation,) = [op for op in detected(before, after) if "onstraint" in type(op).__name__]
    assert (type(operation) is RemoveConstraintKeepingFieldUnique) is expected
    assert isinstance(operation, migrations.RemoveConstraint)


def test_written_and_reloaded(tmp_path: Path) -> None:
    from django.db.migrations import Migration

    from green_makemigrations.writer import StagedMigrationWriter

    migration = Migration("0002_remove", APP)
    migration.operations = [RemoveConstraintKeepingFieldUnique("item", "uq Ódd-name")]
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    assert "green_makemigrations.merged_unique.RemoveConstraintKeepingFieldUnique(" in text
    namespace: dict[str, Any] = {}
    exec(compile(text, "0002_remove.py", "exec"), namespace)  # noqa: S102
    (loaded,) = namespace["Migration"].operations
    assert type(loaded) is RemoveConstraintKeepingFieldUnique
    assert loaded.deconstruct() == migration.operations[0].deconstruct()
