"""A renamed model's many-to-many columns on MariaDB/MySQL: added beside, then swapped.

Renaming a model renames the ``<model>_id`` column of its many-to-many
tables. The view under such a table's old name names the old column; where
DDL cannot be rolled back (MariaDB/MySQL), a view is invalid from the rename
of its column until it is replaced, and a query of the running release in
between fails. So there the column is not renamed but expanded, then
contracted:

- pre-deploy (``expand``): the new column is added beside the old one
  (nullable, in place), triggers keep both equal (sync.py), the rows are
  copied in batches and the new column gets the unique index of Django's
  through table, built online. The view keeps naming the old column; the
  new release inserts the new one, the old one is filled by the trigger.
- post-deploy (``contract``): once no release uses the old column, its
  foreign key and indexes go and it gets a default, the triggers go, then
  it is dropped and the new column made ``NOT NULL`` (online), and the
  new column gets Django's foreign key, checked by a query and added in
  place.
- rolling post-deploy back (``expand(back_to=...)``): the old columns come
  back beside the new ones, synced, copied and indexed, and the view names
  them again;
- rolling pre-deploy back (``shrink``): the triggers, the new columns with
  their index and foreign key go; the old columns get their foreign key
  back once the tables have their old names (``restore_foreign_keys``).

Each step looks at the table first: a run that stopped is finished by the
next one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from .backfill import INTEGER_KEY_TYPES
from .foreign_keys import _add_fk_checked, column_names
from .operations import constraints
from .sync import _ColumnSync


def _field(through: type[models.Model], column: str) -> Any:
    return next(f for f in through._meta.local_concrete_fields if f.column == column)


def _type(schema_editor: BaseDatabaseSchemaEditor, through: type[models.Model], column: str) -> str:
    """Return the database type of through's column."""
    return str(_field(through, column).db_parameters(connection=schema_editor.connection)["type"])


def _unique_columns(through: type[models.Model]) -> list[str]:
    """Return the columns of the through table's unique index, as Django names them now."""
    [names] = through._meta.unique_together
    fields = {field.name: field for field in through._meta.local_concrete_fields}
    return [str(fields[name].column) for name in names]


def _zero(schema_editor: BaseDatabaseSchemaEditor, through: type[models.Model], column: str) -> str:
    """Return a literal of the type of through's foreign key column (its value never read)."""
    target = _field(through, column).target_field
    kind = target.get_internal_type()
    if kind in INTEGER_KEY_TYPES:
        return "0"
    value = ""
    if kind == "UUIDField":
        # A UUID where the server has the type (MariaDB 10.7+), else its hex.
        value = str(target.get_db_prep_value(uuid.UUID(int=0), connection=schema_editor.connection))
    return str(schema_editor.quote_value(value))


def _keys_dropped(
    schema_editor: BaseDatabaseSchemaEditor, table: str, columns: set[str]
) -> list[str]:
    """Return the ``ALTER TABLE`` clauses dropping the keys of table that hold columns.

    Foreign keys first; then every index but the primary key (MariaDB
    would keep an index on the columns a drop of columns leaves).
    """
    quote = schema_editor.quote_name
    changes: list[str] = []
    for name, info in constraints(schema_editor, table).items():
        if info["primary_key"] or not set(info["columns"]) & columns:
            continue
        if info["foreign_key"]:
            changes.insert(0, f"DROP FOREIGN KEY {quote(name)}")
        if info["index"] or info["unique"]:
            changes.append(f"DROP INDEX {quote(name)}")
    return changes


def _syncs(
    schema_editor: BaseDatabaseSchemaEditor, through: type[models.Model], renamed: dict[str, str]
) -> list[_ColumnSync]:
    return [_ColumnSync(schema_editor, through, old, new) for old, new in renamed.items()]


def expand(
    schema_editor: BaseDatabaseSchemaEditor,
    through: type[models.Model],
    renamed: dict[str, str],
    *,
    back_to: str | None = None,
) -> None:
    """Add each new column beside its old one, keep them equal, copy the rows, index them.

    through is the many-to-many model of the new state (its table already
    renamed); renamed maps each old column to its new name. back_to: add
    the old columns beside the new ones instead (rolling post-deploy back),
    their index named as Django named it on the table's old name, back_to.
    """
    back = back_to is not None
    quote = schema_editor.quote_name
    table = through._meta.db_table
    columns = column_names(schema_editor, table)
    for old, new in renamed.items():
        added = old if back else new
        if added not in columns:
            kind = _type(schema_editor, through, new)
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} ADD COLUMN {quote(added)} {kind} NULL"
            )
    for sync in _syncs(schema_editor, through, renamed):
        sync.create()
        sync.backfill(through, 1000, reverse=back)
    unique = _unique_columns(through)
    if back:
        to_old = {new: old for old, new in renamed.items()}
        unique = [to_old.get(column, column) for column in unique]
    if not any(
        info["unique"] and list(info["columns"]) == unique
        for info in constraints(schema_editor, table).values()
    ):
        name = schema_editor._create_index_name(  # type: ignore[attr-defined]
            back_to or table, unique, suffix="_uniq"
        )
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ADD UNIQUE INDEX {quote(name)} "
            f"({', '.join(quote(c) for c in unique)}), ALGORITHM=INPLACE, LOCK=NONE"
        )


def contract(
    schema_editor: BaseDatabaseSchemaEditor, through: type[models.Model], renamed: dict[str, str]
) -> None:
    """Drop each old column and its sync; the new one becomes what Django's rename makes.

    The old column's foreign key and indexes are dropped first (MariaDB
    would otherwise keep its unique index on the remaining columns) and it
    gets a default, so that inserts of the new release, which leave it out,
    go on once the triggers that filled it are gone.
    """
    quote = schema_editor.quote_name
    table = through._meta.db_table
    q_table = quote(table)
    old = [column for column in renamed if column in column_names(schema_editor, table)]
    if old:
        changes = _keys_dropped(schema_editor, table, set(old))
        for column in old:
            zero = _zero(schema_editor, through, renamed[column])
            changes.append(f"ALTER COLUMN {quote(column)} SET DEFAULT {zero}")
        schema_editor.execute(
            f"ALTER TABLE {q_table} {', '.join(changes)}, ALGORITHM=INPLACE, LOCK=NONE"
        )
        for sync in _syncs(schema_editor, through, renamed):
            sync.drop()
        changes = [f"DROP COLUMN {quote(column)}" for column in old]
        for new in renamed.values():
            changes.append(f"MODIFY {quote(new)} {_type(schema_editor, through, new)} NOT NULL")
        schema_editor.execute(
            f"ALTER TABLE {q_table} {', '.join(changes)}, ALGORITHM=INPLACE, LOCK=NONE"
        )
    for new in renamed.values():
        _add_fk_checked(schema_editor, through, _field(through, new))


def shrink(
    schema_editor: BaseDatabaseSchemaEditor, through: type[models.Model], renamed: dict[str, str]
) -> None:
    """Undo expand: drop the triggers, the new columns, their indexes and foreign keys.

    The old columns are made ``NOT NULL`` again where a rolled back
    post-deploy stage added them (``expand(back_to=...)``); their foreign keys
    are added back by ``restore_foreign_keys`` once the tables have their
    old names.
    """
    quote = schema_editor.quote_name
    table = through._meta.db_table
    new = set(renamed.values()) & column_names(schema_editor, table)
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    nullable = {info.name for info in description if info.null_ok}
    # While the triggers still fill them, the new columns lose what would
    # refuse a row of the running release without them (its NOT NULL, its
    # foreign key): were the run stopped after the triggers' drop, its
    # inserts (INSERT IGNORE for a many-to-many add) would be refused.
    loosened = _keys_dropped(schema_editor, table, new) + [
        f"MODIFY {quote(column)} {_type(schema_editor, through, column)} NULL"
        for column in sorted(new - nullable)
    ]
    if loosened:
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} {', '.join(loosened)}, ALGORITHM=INPLACE, LOCK=NONE"
        )
    for sync in _syncs(schema_editor, through, renamed):
        sync.drop()
    changes = [f"DROP COLUMN {quote(column)}" for column in sorted(new)]
    changes += [
        f"MODIFY {quote(old)} {_type(schema_editor, through, column)} NOT NULL"
        for old, column in renamed.items()
        if old in nullable
    ]
    if changes:
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} {', '.join(changes)}, ALGORITHM=INPLACE, LOCK=NONE"
        )


def restore_foreign_keys(
    schema_editor: BaseDatabaseSchemaEditor, through: type[models.Model], columns: list[str]
) -> None:
    """Give each of columns that has none Django's foreign key (through: the old state's model).

    Rolling post-deploy back re-adds the old columns without one: the table
    they point at is a view until pre-deploy is rolled back too.
    """
    existing = constraints(schema_editor, through._meta.db_table).values()
    for column in columns:
        if not any(info["foreign_key"] and list(info["columns"]) == [column] for info in existing):
            _add_fk_checked(schema_editor, through, _field(through, column))
