"""Operations that stop on the rows a table already holds.

Django's ``AddField`` fills the existing rows with one value: the field's
default is taken once (a callable is called once), and a constant
``db_default`` is one value. A unique field added that way to a table with
two rows or more stops the migration on a duplicate key, leaving its stage
half run; a NOT NULL field without any default stops on the first row. Both
are also what undoing a ``RemoveField`` runs (a rollback). Only the table's
rows decide, so the proof reports it for every table the deployed release
has (it may hold rows); a table the plan creates is empty when the field is
added to it in the same stage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from ..backends import get_backend
from .release import NULL_FILL, NULL_REFILL, ONE_VALUE_UNIQUE, Break
from .schema import NO_DEFAULT, StateProjection, default_kind, fills_distinct


def stops_on_rows(
    app_label: str, operation: Operation, before: ProjectState, connection: Any
) -> Break | None:
    """Return the break when operation stops on the rows of a table of before's models.

    before is the state of the release deployed when it runs; the
    operation's model must be in it (its table may hold rows). Two ways an
    ``AddField`` stops: a unique column filled with one value (a duplicate
    key), a NOT NULL column filled with NULL (no default at all).
    """
    if type(operation) is not operations.AddField:  # subclasses say what they run
        return None
    model_field: Any = operation.field
    where = _where(
        app_label, operation.model_name_lower, operation.name, model_field, before, connection
    )
    if where is None:
        return None
    label, table, column = where
    quote = connection.ops.quote_name
    add = f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)}"
    if _fills_one_value(model_field, connection):
        return Break(
            ONE_VALUE_UNIQUE,
            label,
            table,
            column,
            f"unique column {column} is added to {table} with one value for every existing "
            "row: the migration stops on a duplicate key once the table holds two rows",
            f"{add} ... UNIQUE",
        )
    if _fills_null(model_field, connection):
        return Break(
            NULL_FILL,
            label,
            table,
            column,
            f"NOT NULL column {column} is added to {table} without a default: the migration "
            "stops on the first row, which it cannot fill",
            f"{add} ... NOT NULL",
        )
    return None


def _fills_one_value(model_field: Any, connection: Any) -> bool:
    """Return whether adding model_field gives every existing row one value of a unique column."""
    if not (model_field.unique or model_field.primary_key):
        return False
    backend = get_backend(connection)
    if default_kind(model_field) != NO_DEFAULT:
        # A random database default gives each row its own value, but MariaDB
        # evaluates RAND() once for the rows ADD COLUMN fills (UUID() per row).
        if backend.per_row_defaults is not None:
            return not fills_distinct(model_field, *backend.per_row_defaults)
        return not fills_distinct(model_field)
    if _effective_default(model_field) is not None:
        return True
    # NULLs never repeat a unique value, but MariaDB fills a NOT NULL column
    # without a default with its type's implicit one (0, '') in every row.
    return backend.fills_new_columns_with_implicit_defaults and not model_field.null


def _fills_null(model_field: Any, connection: Any) -> bool:
    """Return whether adding model_field puts NULL into a NOT NULL column of existing rows.

    MariaDB and MySQL fill such a column with its type's implicit default
    (0, ''), and stop only where that breaks a foreign key (no row 0).
    """
    if model_field.null or default_kind(model_field) != NO_DEFAULT:
        return False
    if _effective_default(model_field) is not None:
        return False
    if get_backend(connection).fills_new_columns_with_implicit_defaults:
        return bool(model_field.is_relation and getattr(model_field, "db_constraint", False))
    return True


def undo_stops_on_nulls(
    app_label: str,
    operation: Operation,
    restored: Any,
    running: ProjectState,
    connection: Any,
) -> Break | None:
    """Return the break when undoing an AlterField makes a column NOT NULL over NULLs.

    restored is the field the undoing puts back; running is the state of the
    release running before the rollback. When that release lacks the field
    (it is being removed), its inserts left NULL in the column, and undoing
    the RemoveField that follows it filled every row with NULL: the column
    cannot become NOT NULL until the rows get values.
    """
    if type(operation) is not operations.AlterField:
        return None
    if restored.null or not operation.field.null:
        return None
    running_model = running.models.get((app_label, operation.model_name_lower))
    if running_model is None or operation.name in running_model.fields:
        return None
    where = _where(
        app_label, operation.model_name_lower, operation.name, restored, running, connection
    )
    if where is None:
        return None
    label, table, column = where
    quote = connection.ops.quote_name
    return Break(
        NULL_REFILL,
        label,
        table,
        column,
        f"column {column} of {table} is made NOT NULL again while its rows hold NULL (the "
        "release being rolled back does not write it, and the dropped values are gone): "
        "it stops until they get a value",
        f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} SET NOT NULL",
    )


def _where(
    app_label: str,
    model_name: str,
    name: str,
    model_field: Any,
    state: ProjectState,
    connection: Any,
) -> tuple[str, str, str] | None:
    """Return the model label, table and column of state's model field, or None without them."""
    key = (app_label, model_name)
    model_state = state.models.get(key)
    if model_state is None:
        return None
    projection = StateProjection(state, connection)
    table = projection.table_name(key)
    column = projection.column_name(name, model_field)
    if table is None or column is None:
        return None
    return f"{app_label}.{model_state.name}", table, column


def _effective_default(model_field: Any) -> Any:
    """Return what Django's schema editor fills existing rows with (its own rule).

    A relation of an unrendered state cannot compute its default (its model
    is a name): its default as given stands for it (a callable is a value).
    """
    if model_field.is_relation and model_field.has_default():
        return model_field.default
    effective: Callable[[Any], Any] = BaseDatabaseSchemaEditor._effective_default  # type: ignore[attr-defined]
    return effective(model_field)
