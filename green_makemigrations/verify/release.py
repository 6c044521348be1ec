"""Check one release's models against a database schema.

A release works with a schema when every query its ORM sends succeeds:
each model's table (or a view standing in for it) exists, with a column
under the name each field uses, of a type that takes what the release
writes, nullable where the release writes NULL; and an insert that leaves
out a column the release does not know still gives it a value, never one
value twice in a unique column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..backends import get_backend
from .schema import CONSTANT, Column, Relation, Schema
from .types import incompatibility

MISSING_TABLE = "missing-table"
MISSING_COLUMN = "missing-column"
TYPE = "type"
NULL_REFUSED = "null-refused"
NO_VALUE = "no-value"
CONSTANT_UNIQUE = "constant-unique"
# Not a query of a release: the migration itself stops on the table's rows (rows.py).
ONE_VALUE_UNIQUE = "one-value-unique"
NULL_FILL = "null-fill"
# A caveat: undoing a nullable prep stops on the NULLs the rolled-back release
# left, until someone backfills them (the stop is clean: a re-run finishes).
NULL_REFILL = "null-refill"
# Not a break: a phased type change's column, synced into its replacement,
# takes the old type's values only until the post-deploy swap.
TYPE_UNTIL_SWAP = "type-until-swap"
CAVEATS = frozenset({TYPE_UNTIL_SWAP, NULL_REFILL})

FIXES = {
    MISSING_TABLE: (
        "Drop or rename the table in the post-deploy stage, once no running release uses it "
        "(a model rename: keep db_table, or let makemigrations phase it with a view)."
    ),
    MISSING_COLUMN: (
        "Drop or rename the column in the post-deploy stage (a field rename: keep its "
        "db_column until then, or let makemigrations phase it)."
    ),
    TYPE: (
        "Change the type in the post-deploy stage, or widen it first (pre-deploy) and narrow "
        "it only once no release writes the wider values."
    ),
    NULL_REFUSED: (
        "Make the column NOT NULL in the post-deploy stage, once no running release writes NULL."
    ),
    NO_VALUE: (
        "Give the column a database default (db_default) or add it nullable in the "
        "pre-deploy stage; drop the default or make it NOT NULL in the post-deploy stage."
    ),
    CONSTANT_UNIQUE: (
        "Add the field nullable, fill it with unique values, then make it NOT NULL "
        "(post-deploy); a unique column cannot take one default for every row."
    ),
    ONE_VALUE_UNIQUE: (
        "Add the field nullable (or with a per-row db_default such as RandomUUID or Now), "
        "give each existing row its own value in a data migration, then make it NOT NULL; "
        "Django's AddField gives every row the same default."
    ),
    NULL_FILL: (
        "Give the field a default (db_default, or a default makemigrations writes into the "
        "migration), or add it nullable, fill each row, then make it NOT NULL."
    ),
    NULL_REFILL: (
        "Before this step of the rollback, give the column's NULL rows a value (an UPDATE, "
        "or a data migration); the migration stops cleanly on them and a re-run finishes it."
    ),
    TYPE_UNTIL_SWAP: (
        "Until the post-deploy stage puts the column of the new type in its place, the new "
        "release's values must fit the old type: do not write wider values before then."
    ),
}


@dataclass(frozen=True)
class Break:
    """A query of one release that fails against a schema."""

    rule: str
    model: str  # "app_label.ModelName"
    table: str
    column: str | None
    problem: str
    query: str

    @property
    def fix(self) -> str:
        """Return what to do about it."""
        return FIXES[self.rule]

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        """Return what identifies the break across moments."""
        return (self.rule, self.table, self.column, self.model)


def check_release(release: Iterable[Relation], schema: Schema, connection: Any) -> list[Break]:
    """Return the queries of a release's tables (as its models see them) that fail."""
    breaks: list[Break] = []
    for relation in release:
        breaks += _check_table(relation, schema, connection)
    return breaks


def _check_table(mine: Relation, schema: Schema, connection: Any) -> list[Break]:
    quote = connection.ops.quote_name
    label, table = mine.model, mine.name
    relation = schema.table(table)
    base = schema.base_of(relation) if relation is not None else None
    if relation is None or base is None:
        return [
            Break(
                MISSING_TABLE,
                label,
                table,
                None,
                f"table {table} does not exist",
                f"SELECT * FROM {quote(table)}",
            )
        ]
    breaks: list[Break] = []
    written: list[str] = []
    written_base: set[str] = set()
    for column_name, wanted in mine.columns.items():
        column = relation.columns.get(column_name)
        if column is None:
            breaks.append(
                Break(
                    MISSING_COLUMN,
                    label,
                    table,
                    column_name,
                    f"column {column_name} of {table} does not exist",
                    f"SELECT {quote(column_name)} FROM {quote(table)}",
                )
            )
            continue
        base_column = _base_column(relation, base, column)
        written_base.add(base_column.name)
        if wanted.generated:
            continue  # the database computes it; the release never writes it
        written.append(column_name)
        problem = (
            incompatibility(wanted.db_type, column.db_type)
            if get_backend(connection).enforces_column_types
            else None
        )
        if problem is not None:
            synced = (base.name, base_column.name) in schema.synced
            breaks.append(
                Break(
                    TYPE_UNTIL_SWAP if synced else TYPE,
                    label,
                    table,
                    column_name,
                    f"column {column_name} of {table}: {problem}",
                    f"INSERT INTO {quote(table)} ({quote(column_name)}) VALUES (...)",
                )
            )
        if wanted.null and not base_column.null:
            breaks.append(
                Break(
                    NULL_REFUSED,
                    label,
                    table,
                    column_name,
                    f"column {column_name} of {table} is NOT NULL and the release writes NULL",
                    f"INSERT INTO {quote(table)} ({quote(column_name)}) VALUES (NULL)",
                )
            )

    def insert() -> str:  # the failing query, spelt out only for a break
        return f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in written)}) VALUES (...)"

    for column in base.columns.values():
        if column.name in written_base:
            continue
        if not schema.is_filled(base.name, column):
            breaks.append(
                Break(
                    NO_VALUE,
                    label,
                    table,
                    column.name,
                    f"column {column.name} of {base.name} is NOT NULL without a database "
                    "default and the release does not write it",
                    insert(),
                )
            )
        elif column.default == CONSTANT and _unique(base, column.name):
            breaks.append(
                Break(
                    CONSTANT_UNIQUE,
                    label,
                    table,
                    column.name,
                    f"column {column.name} of {base.name} is unique with one database default "
                    "for every row and the release does not write it: its second insert "
                    "repeats the value",
                    insert(),
                )
            )
    return breaks


def _base_column(relation: Relation, base: Relation, column: Column) -> Column:
    """Return the table's column behind a relation's column (itself for a table)."""
    if not relation.is_view:
        return column
    return base.columns.get(relation.base_columns.get(column.name, column.name), column)


def _unique(relation: Relation, column: str) -> bool:
    return any(column in columns for columns in relation.unique)
