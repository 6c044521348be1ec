"""The rules for migrations that stop on a table's rows, against the database itself.

A field is added with Django's own ``AddField`` to a table holding two
rows. The verdict of rows.stops_on_rows() (a break, or none) must be what
the database then does: the operation stops exactly when the rules say so
(a unique column filled with one value, a NOT NULL one with NULL). The
fields are written out for each side of the rules, then every combination
of kind, unique, null and default (none, a constant, a callable, a constant
or a database function as ``db_default``) is tried, on every backend.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import DatabaseError, connection, models
from django.db.migrations import operations
from django.db.migrations.state import ModelState, ProjectState
from django.db.models import functions

from green_makemigrations.expressions import RandomUUID
from green_makemigrations.verify import release, rows

APP_LABEL = "green_rows"
_tables = itertools.count()

KINDS = ("int", "char", "uuid", "datetime", "float")
DEFAULTS = ("none", "constant", "callable", "db_constant", "db_function")


@dataclass(frozen=True)
class Spec:
    """The added field: its kind, uniqueness, nullability and default."""

    kind: str
    unique: bool
    null: bool
    default: str

    def field(self) -> models.Field[Any, Any]:
        """Return the field to add."""
        options: dict[str, Any] = {"unique": self.unique, "null": self.null}
        constant = {
            "int": 7,
            "char": "x",
            "uuid": uuid.UUID(int=7),
            "datetime": functions.Now(),  # replaced below: a constant must be a value
            "float": 1.5,
        }[self.kind]
        if self.kind == "datetime":
            import datetime

            constant = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        if self.default == "constant":
            options["default"] = constant
        elif self.default == "callable":
            options["default"] = {
                "int": _seven,
                "char": _text,
                "uuid": uuid.uuid4,
                "datetime": _now,
                "float": _seven,
            }[self.kind]
        elif self.default == "db_constant":
            options["db_default"] = constant
        elif self.default == "db_function":
            # The functions each backend evaluates in a DEFAULT: the time
            # (one value per statement), a random number, a random UUID.
            options["db_default"] = {
                "float": functions.Random(),
                "uuid": RandomUUID(),
            }.get(self.kind, functions.Now())
        kinds: dict[str, Any] = {
            "int": models.IntegerField,
            "char": lambda **o: models.CharField(max_length=40, **o),
            "uuid": models.UUIDField,
            "datetime": models.DateTimeField,
            "float": models.FloatField,
        }
        return kinds[self.kind](**options)  # type: ignore[no-any-return]


def _seven() -> int:
    return 7


def _text() -> str:
    return "x"


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _applies(spec: Spec) -> bool:
    """Return whether the database takes the spec's db_default at all."""
    if spec.default != "db_function":
        return True
    return spec.kind in ("datetime", "float", "uuid")


def stops(spec: Spec) -> tuple[bool, str | None]:
    """Return (the rule's verdict, the database's error) for adding spec to a table of two rows."""
    table = f"green_rows_t{next(_tables)}"
    state = ProjectState()
    state.add_model(
        ModelState(
            APP_LABEL, "T", [("id", models.AutoField(primary_key=True))], {"db_table": table}
        )
    )
    operation = operations.AddField("t", "added", spec.field())
    verdict = rows.stops_on_rows(APP_LABEL, operation, state, connection)
    after = state.clone()
    operation.state_forwards(APP_LABEL, after)
    model = state.apps.get_model(APP_LABEL, "T")
    with connection.schema_editor() as editor:
        editor.create_model(model)
    error = None
    try:
        model._default_manager.create()
        model._default_manager.create()
        try:
            with connection.schema_editor() as editor:
                operation.database_forwards(APP_LABEL, editor, state, after)
        except DatabaseError as failure:
            error = f"{type(failure).__name__}: {failure}"
    finally:
        with connection.schema_editor() as editor:
            editor.execute(editor.sql_delete_table % {"table": editor.quote_name(table)})
    if verdict is not None:
        assert verdict.rule in (release.ONE_VALUE_UNIQUE, release.NULL_FILL)
        assert verdict.table == table and verdict.column == "added"
    return verdict is not None, error


CASES = [
    # The passing side: not unique, NULLs, a random database default.
    (Spec("int", unique=False, null=False, default="constant"), False),
    (Spec("uuid", unique=True, null=True, default="none"), False),
    (Spec("float", unique=True, null=True, default="db_function"), connection.vendor == "mysql"),
    # The failing side: one value for every row, however it is given.
    (Spec("int", unique=True, null=False, default="constant"), True),
    (Spec("uuid", unique=True, null=False, default="callable"), True),
    (Spec("char", unique=True, null=True, default="db_constant"), True),
    (Spec("datetime", unique=True, null=False, default="db_function"), True),
    # NOT NULL without any default (what undoing a RemoveField runs): the
    # rows get NULL, except on MariaDB, which fills the type's implicit default.
    (Spec("int", unique=False, null=False, default="none"), connection.vendor != "mysql"),
    (Spec("char", unique=False, null=True, default="none"), False),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("spec", "breaks"), CASES, ids=str)
def test_rule(spec: Spec, breaks: bool) -> None:
    """Each side of the rule, and the database agrees."""
    verdict, error = stops(spec)
    assert verdict is breaks
    assert (error is not None) is breaks, error


# Every field of the space: 5 kinds x unique x null x 5 defaults. What it
# found on MariaDB: DEFAULT (RAND()) is one value for the rows ADD COLUMN
# fills, DEFAULT (UUID()) one per row, and a unique NOT NULL column without a
# default gets the implicit 0 in every row.
EVERY_FIELD = [
    spec
    for spec in itertools.starmap(
        Spec, itertools.product(KINDS, (False, True), (False, True), DEFAULTS)
    )
    if _applies(spec)
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("spec", EVERY_FIELD, ids=str)
def test_every_field(spec: Spec) -> None:
    """Whatever the field, the verdict says whether the migration stops on the rows."""
    verdict, error = stops(spec)
    assert verdict is (error is not None), error or "the field was added"
