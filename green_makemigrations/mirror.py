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

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models.fields import NOT_PROVIDED

from . import identifiers
from .backends import get_backend
from .patching import swap_attribute

TRIGGER_SUFFIXES = ("i", "u", "d")


def create_mirror(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    name: str,
    columns: Sequence[tuple[str, str]],
) -> None:
    """Create table name mirroring model's table, rows and triggers included.

    ``columns`` pairs each column of the table with its name in the mirror;
    the model's other fields are left out.
    """
    quote = identifiers.quoter(schema_editor)
    connection = schema_editor.connection
    table, mirror = quote(model._meta.db_table), quote(name)
    to_mirror = dict(columns)
    pk = model._meta.pk
    assert pk is not None
    autoincrement = False
    definitions = []
    fields = [f for f in model._meta.local_concrete_fields if str(f.column) in to_mirror]
    for field in fields:
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
    generated = {str(f.column) for f in fields if f.generated}
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
    _create_triggers(schema_editor, name, table, mirror, pairs, key)


def _create_triggers(
    schema_editor: BaseDatabaseSchemaEditor,
    name: str,
    table: str,
    mirror: str,
    pairs: Sequence[tuple[str, str]],
    key: tuple[str, str],
) -> None:
    """Create the triggers copying rows between table and mirror (names quoted).

    ``pairs`` holds (table column, mirror column) of every copied column;
    ``key`` the primary key's.
    """
    quote = identifiers.quoter(schema_editor)
    for prefix, source, target, copied, source_key, target_key in (
        ("from", table, mirror, [(alias, column) for column, alias in pairs], key[0], key[1]),
        ("to", mirror, table, list(pairs), key[1], key[0]),
    ):
        for suffix, event, body in _trigger_bodies(source, target, copied, source_key, target_key):
            schema_editor.execute(
                f"CREATE TRIGGER {quote(trigger_name(name, prefix, suffix))} AFTER {event} "
                f"ON {source} FOR EACH ROW {body}"
            )


def _drop_triggers(schema_editor: BaseDatabaseSchemaEditor, name: str) -> None:
    quote = identifiers.quoter(schema_editor)
    for prefix in ("from", "to"):
        for suffix in TRIGGER_SUFFIXES:
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {quote(trigger_name(name, prefix, suffix))}"
            )


# The insert trigger's statement, as _trigger_bodies writes it (and as it
# wrote it before it read the row back).
_INSERT = re.compile(
    r'INSERT INTO "(?:[^"]|"")+" \((.*?)\) (?:SELECT (.*?) FROM |VALUES \((.*?)\))'
)
_IDENTIFIER = re.compile(r'"((?:[^"]|"")+)"')


def _mirrors_of(
    schema_editor: BaseDatabaseSchemaEditor, table: str
) -> dict[str, list[tuple[str, str]]]:
    """Return each mirror of table, with its (table column, mirror column) pairs.

    Read from the mirror's insert trigger on table, which names both.
    """
    suffix = trigger_name("", "from", "i")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [table],
        )
        rows = cursor.fetchall()
    mirrors = {}
    for trigger, sql in rows:
        if not trigger.endswith(suffix):
            continue
        match = _INSERT.search(sql)
        if match is None:  # pragma: no cover - not a trigger create_mirror wrote
            continue
        targets = [m.replace('""', '"') for m in _IDENTIFIER.findall(match[1])]
        # "table"."column" or NEW."column": the column is the last identifier.
        sources = [
            _IDENTIFIER.findall(item)[-1].replace('""', '"')
            for item in (match[2] or match[3]).split(", ")
        ]
        mirrors[trigger.removesuffix(suffix)] = list(zip(sources, targets, strict=True))
    return mirrors


@contextmanager
def rebuilds_keep_mirrors(connection: Any) -> Iterator[None]:
    """Keep the mirrors of each table SQLite's schema editor rebuilds in the block.

    Django rebuilds a table to alter it (a new table, the rows copied, the
    old one dropped, the new one renamed), or drops a column in place: the
    triggers on the old table go with it, and the mirror's triggers, which
    name the table and its columns, stop the rename or the drop. They are
    dropped before and created again after, for the columns the table still
    has (under their new names, if the rebuild renamed them). Elsewhere the
    block runs unchanged.
    """
    if not get_backend(connection).views_are_mirrors:
        yield
        return
    editor_class = connection.SchemaEditorClass
    remake_table = editor_class._remake_table
    remove_field = editor_class.remove_field

    def remake(
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        create_field: Any = None,
        delete_field: Any = None,
        alter_fields: Any = None,
    ) -> None:
        renamed = {
            str(old.column): str(new.column)
            for old, new in alter_fields or []
            if old.column and new.column
        }
        with _triggers_recreated(schema_editor, model, renamed):
            remake_table(schema_editor, model, create_field, delete_field, alter_fields)

    def remove(schema_editor: BaseDatabaseSchemaEditor, model: Any, field: Any) -> None:
        with _triggers_recreated(schema_editor, model, {}):
            remove_field(schema_editor, model, field)

    with (
        swap_attribute(editor_class, "_remake_table", remake),
        swap_attribute(editor_class, "remove_field", remove),
    ):
        yield


@contextmanager
def _triggers_recreated(
    schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model], renamed: dict[str, str]
) -> Iterator[None]:
    """Drop the triggers of model's table's mirrors for the block; create them again after.

    renamed maps the columns the block renames to their new names. All in
    one transaction: in a non-atomic migration a write of the running
    release between the triggers' drop and the rebuild's copy would reach
    the mirror and not the table.
    """
    table = str(model._meta.db_table)
    if schema_editor.collect_sql:
        yield
        return
    mirrors = _mirrors_of(schema_editor, table)
    others = _other_triggers(schema_editor, table)
    if not mirrors and not others:
        yield
        return
    with transaction.atomic(using=schema_editor.connection.alias):
        for name in mirrors:
            _drop_triggers(schema_editor, name)
        yield
        _recreate_triggers(schema_editor, model, table, mirrors, renamed)
        _recreate_other_triggers(schema_editor, table, others, renamed)


def _other_triggers(schema_editor: BaseDatabaseSchemaEditor, table: str) -> dict[str, str]:
    """Return the SQL of each trigger on table that is not a mirror's, by name.

    Those are a renamed or retyped column's sync (sync.py): a rebuild of
    the table in another operation of the migration must not stop it.
    """
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [table],
        )
        rows = cursor.fetchall()
    return {name: sql for name, sql in rows if "__mirror_" not in name}


def _recreate_other_triggers(
    schema_editor: BaseDatabaseSchemaEditor,
    table: str,
    triggers: dict[str, str],
    renamed: dict[str, str],
) -> None:
    """Create the triggers a rebuild of table dropped again, if their columns are still there.

    A trigger naming a column the rebuild removed goes with it, as the
    triggers of a dropped column do; a renamed column is renamed in it.
    """
    with schema_editor.connection.cursor() as cursor:
        description = schema_editor.connection.introspection.get_table_description(cursor, table)
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table]
        )
        present = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        known = {row[0] for row in cursor.fetchall()} | {info.name for info in description}
    for name, sql in triggers.items():
        if name in present:
            continue
        sql = _IDENTIFIER.sub(lambda match: _renamed(match, renamed), sql)
        named = {m.replace('""', '"') for m in _IDENTIFIER.findall(sql)}
        if named - known - {name}:
            continue
        schema_editor.execute(sql)


def _renamed(match: re.Match[str], renamed: dict[str, str]) -> str:
    """Return the quoted identifier match, under its new name if it is renamed."""
    name = match[1].replace('""', '"')
    return '"{}"'.format(renamed.get(name, name).replace('"', '""'))


def _recreate_triggers(
    schema_editor: BaseDatabaseSchemaEditor,
    model: type[models.Model],
    table: str,
    mirrors: dict[str, list[tuple[str, str]]],
    renamed: dict[str, str],
) -> None:
    """Create the triggers of table's mirrors for the columns table has now."""
    with schema_editor.connection.cursor() as cursor:
        description = schema_editor.connection.introspection.get_table_description(cursor, table)
    columns = {info.name for info in description}
    quote = identifiers.quoter(schema_editor)
    pk = model._meta.pk
    assert pk is not None
    pk_column = renamed.get(str(pk.column), str(pk.column))
    for name, pairs in mirrors.items():
        kept = [
            (renamed.get(column, column), alias)
            for column, alias in pairs
            if renamed.get(column, column) in columns
        ]
        key = (quote(pk_column), quote(dict(kept).get(pk_column, pk_column)))
        quoted = [(quote(column), quote(alias)) for column, alias in kept]
        _create_triggers(schema_editor, name, quote(table), quote(name), quoted, key)


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
    The row is copied as it is when the trigger runs, not as the statement
    left it (``NEW``): other triggers on the table (a renamed column's sync,
    sync.py) may have changed it since, and a copy of the statement's
    values would bring back the values they replaced.
    """
    targets = ", ".join(column for column, _s in copied)
    sources = ", ".join(f"{source}.{column}" for _t, column in copied)
    changed = " OR ".join(f"{target}.{column} IS NOT {source}.{value}" for column, value in copied)
    row = f"FROM {source} WHERE {source}.{source_key} = NEW.{source_key}"
    missing = f"NOT EXISTS (SELECT 1 FROM {target} WHERE {target_key} = NEW.{source_key})"
    insert = f"INSERT INTO {target} ({targets}) SELECT {sources} {row}"
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
            f"BEGIN UPDATE {target} SET ({targets}) = (SELECT {sources} {row}) "
            f"WHERE {target_key} = OLD.{source_key} AND EXISTS (SELECT 1 {row} "
            f"AND ({changed})); END",
        ),
        ("d", "DELETE", f"BEGIN DELETE FROM {target} WHERE {target_key} = OLD.{source_key}; END"),
    ]


def drop_mirror(schema_editor: BaseDatabaseSchemaEditor, name: str) -> None:
    """Drop the mirror called name and the triggers on its table, if they exist.

    A view of that name (what SQLite had before the mirror) is dropped instead.
    """
    quote = identifiers.quoter(schema_editor)
    _drop_triggers(schema_editor, name)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT type FROM sqlite_master WHERE name = %s", [name])
        row = cursor.fetchone()
    kind = "VIEW" if row is not None and row[0] == "view" else "TABLE"
    schema_editor.execute(f"DROP {kind} IF EXISTS {quote(name)}")


def trigger_name(name: str, prefix: str, suffix: str) -> str:
    """Return the name of a mirror's trigger: copying from its table or to it, on an event."""
    return f"{name}__mirror_{prefix}_{suffix}"
