"""Mirror tables: SQLite's stand-in for a view under a renamed table's old name.

SQLite writes through a view only with ``INSTEAD OF`` triggers, and then
reports neither the primary key of an inserted row nor the number of rows an
update changed: Django's ``Model.save()`` of an existing row would try an
``INSERT``. So on SQLite the old name is a real table holding the same rows
under the old column names, with ``AFTER`` triggers on both tables copying
every insert, update and delete to the other one in the same statement.
SQLite runs one writer at a time, and its triggers do not fire themselves
again (``recursive_triggers`` is off), so the copies cannot drift apart.

The mirror has the primary key of the renamed table (with ``AUTOINCREMENT``
and its counter where the table has them), each column's type and database
default, its generated columns (computed in the mirror too), and nothing
else: every other column is nullable and unconstrained, since the renamed
table checks each row the mirror passes on, and a row it refuses is refused
to the writer of the mirror too. A row that an ``INSERT OR IGNORE`` into the
mirror puts there, and that the renamed table ignores, is taken out of the
mirror again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models.fields import NOT_PROVIDED

from . import identifiers

TRIGGER_SUFFIXES = ("i", "u", "d")


def create_mirror(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    name: str,
    columns: Sequence[tuple[str, str]],
) -> None:
    """Create table name mirroring model's table, rows and triggers included.

    ``columns`` pairs each column of the table with its name in the mirror.
    """
    quote = identifiers.quoter(schema_editor)
    connection = schema_editor.connection
    table, mirror = quote(model._meta.db_table), quote(name)
    to_mirror = dict(columns)
    pk = model._meta.pk
    assert pk is not None
    autoincrement = False
    definitions = []
    for field in model._meta.local_concrete_fields:
        name_in_mirror = quote(to_mirror[str(field.column)])
        definition = f"{name_in_mirror} {field.db_type(connection)}"
        if field.generated:
            # Computed in the mirror too: its rows are the old release's at once.
            sql, column_params = schema_editor.column_sql(model, field)
            definition = f"{name_in_mirror} {_inline(schema_editor, str(sql), column_params or ())}"
        elif field.primary_key:
            suffix = field.db_type_suffix(connection)
            autoincrement = bool(suffix)
            definition += f" NOT NULL PRIMARY KEY {suffix or ''}".rstrip()
        elif field.db_default is not NOT_PROVIDED:
            default, default_params = schema_editor.db_default_sql(field)
            definition += f" DEFAULT {_inline(schema_editor, default, default_params)}"
        definitions.append(definition)
    schema_editor.execute(f"CREATE TABLE {mirror} ({', '.join(definitions)})")
    generated = {str(f.column) for f in model._meta.local_concrete_fields if f.generated}
    pairs = [(quote(column), quote(alias)) for column, alias in columns if column not in generated]
    schema_editor.execute(
        f"INSERT INTO {mirror} ({', '.join(alias for _c, alias in pairs)}) "
        f"SELECT {', '.join(column for column, _a in pairs)} FROM {table}"
    )
    if autoincrement:
        # The mirror numbers the old release's rows from where the table's counter is.
        schema_editor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [name])
        schema_editor.execute(
            "INSERT INTO sqlite_sequence (name, seq) SELECT %s, seq FROM sqlite_sequence "
            "WHERE name = %s",
            [name, model._meta.db_table],
        )
    key = (quote(str(pk.column)), quote(to_mirror[str(pk.column)]))
    for prefix, source, target, copied, source_key, target_key in (
        ("from", table, mirror, [(alias, column) for column, alias in pairs], key[0], key[1]),
        ("to", mirror, table, pairs, key[1], key[0]),
    ):
        for suffix, event, body in _trigger_bodies(source, target, copied, source_key, target_key):
            schema_editor.execute(
                f"CREATE TRIGGER {quote(trigger_name(name, prefix, suffix))} AFTER {event} "
                f"ON {source} FOR EACH ROW {body}"
            )


def _inline(schema_editor: BaseDatabaseSchemaEditor, sql: str, params: Sequence[Any]) -> str:
    """Return sql with its parameters written in as literals (DDL takes no parameters)."""
    return sql % tuple(map(schema_editor.quote_value, params)) if params else sql


def _trigger_bodies(
    source: str,
    target: str,
    copied: Sequence[tuple[str, str]],
    source_key: str,
    target_key: str,
) -> list[tuple[str, str, str]]:
    """Return (suffix, event, WHEN and body) of the triggers copying source's rows to target.

    ``copied`` pairs each target column with the source column it takes.
    """
    targets = ", ".join(column for column, _s in copied)
    values = ", ".join(f"NEW.{column}" for _t, column in copied)
    assignments = ", ".join(f"{column} = NEW.{value}" for column, value in copied)
    changed = " OR ".join(f"{column} IS NOT NEW.{value}" for column, value in copied)
    missing = f"NOT EXISTS (SELECT 1 FROM {target} WHERE {target_key} = NEW.{source_key})"
    insert = f"INSERT INTO {target} ({targets}) VALUES ({values})"
    return [
        (
            "i",
            "INSERT",
            # An INSERT OR IGNORE the target ignored leaves no row behind in the source.
            f"WHEN {missing} BEGIN {insert}; DELETE FROM {source} "
            f"WHERE {source_key} = NEW.{source_key} AND {missing}; END",
        ),
        (
            "u",
            "UPDATE",
            f"BEGIN UPDATE {target} SET {assignments} "
            f"WHERE {target_key} = OLD.{source_key} AND ({changed}); END",
        ),
        ("d", "DELETE", f"BEGIN DELETE FROM {target} WHERE {target_key} = OLD.{source_key}; END"),
    ]


def drop_mirror(schema_editor: BaseDatabaseSchemaEditor, name: str) -> None:
    """Drop the mirror called name and the triggers on its table, if they exist.

    A view of that name (what SQLite had before the mirror) is dropped instead.
    """
    quote = identifiers.quoter(schema_editor)
    for prefix in ("from", "to"):
        for suffix in TRIGGER_SUFFIXES:
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {quote(trigger_name(name, prefix, suffix))}"
            )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT type FROM sqlite_master WHERE name = %s", [name])
        row = cursor.fetchone()
    kind = "VIEW" if row is not None and row[0] == "view" else "TABLE"
    schema_editor.execute(f"DROP {kind} IF EXISTS {quote(name)}")


def trigger_name(name: str, prefix: str, suffix: str) -> str:
    """Return the name of a mirror's trigger: copying from its table or to it, on an event."""
    return f"{name}__mirror_{prefix}_{suffix}"
