"""Operations that stop on the rows a table already holds.

Django's ``AddField`` fills the existing rows with one value: the field's
default is taken once (a callable is called once), and a constant
``db_default`` is one value. A unique field added that way to a table with
two rows or more stops the migration on a duplicate key, leaving its stage
half run. Only the table's rows decide, so the proof reports it for every
table the deployed release has (it may hold rows); a table the plan creates
is empty when the field is added to it in the same stage.
"""

from __future__ import annotations

from typing import Any

from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from .release import ONE_VALUE_UNIQUE, Break
from .schema import NO_DEFAULT, StateProjection, default_kind, fills_distinct


def one_value_unique(
    app_label: str, operation: Operation, before: ProjectState, connection: Any
) -> Break | None:
    """Return the break when operation adds a unique field filled with one value.

    before is the state of the deployed release; the operation's model must
    be in it (its table may hold rows).
    """
    if type(operation) is not operations.AddField:  # subclasses say what they run
        return None
    model_field: Any = operation.field
    if not (model_field.unique or model_field.primary_key):
        return None
    key = (app_label, operation.model_name_lower)
    if key not in before.models:
        return None
    if default_kind(model_field) != NO_DEFAULT:
        # A random database default gives each row its own value, but MariaDB
        # and MySQL evaluate it once for the rows ADD COLUMN fills.
        if fills_distinct(model_field) and connection.vendor != "mysql":
            return None
    elif model_field.null and model_field.get_default() is None:
        return None  # NULLs never repeat a unique value
    projection = StateProjection(before, connection)
    table = projection.table_name(key)
    if table is None:
        return None
    column = projection.column_name(operation.name, model_field)
    quote = connection.ops.quote_name
    return Break(
        ONE_VALUE_UNIQUE,
        f"{app_label}.{before.models[key].name}",
        table,
        column,
        f"unique column {column} is added to {table} with one value for every existing row: "
        "the migration stops on a duplicate key once the table holds two rows",
        f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} ... UNIQUE",
    )
