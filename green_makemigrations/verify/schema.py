"""The database schema as a release meets it: tables, views and their columns.

This is the schema the migrations leave in the database (derive.py builds it
operation by operation), not Django's state: a ``SeparateDatabaseAndState``
or a view can make the two differ, and the proof is about the database.
A table's columns come from Django's own rendering of the model
(``field.db_type(connection)``), so both sides of a comparison speak the
same backend's type names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import models
from django.db.models.fields import NOT_PROVIDED

# Database default of a column: none, one value for every row (a unique
# column cannot take it twice), or one computed per row.
NO_DEFAULT = "none"
CONSTANT = "constant"
PER_ROW = "per-row"

# Functions whose value differs row by row: a unique column may default to them.
PER_ROW_FUNCTIONS = frozenset(
    {"now", "current_timestamp", "gen_random_uuid", "uuid", "random", "randomblob"}
)
PER_ROW_EXPRESSIONS = frozenset({"Now", "Random", "RandomUUID"})


@dataclass(frozen=True)
class Column:
    """One column: its database type, nullability and default."""

    name: str
    db_type: str | None
    null: bool
    default: str = NO_DEFAULT
    generated: bool = False


@dataclass
class Relation:
    """A table, or a view standing in for one.

    A view's ``columns`` are its own names; ``base`` is the table it shows
    and ``base_columns`` maps each view column to the table's column. A row
    inserted through a view gets the defaults of the table's other columns.
    """

    name: str
    columns: dict[str, Column]
    unique: set[frozenset[str]] = field(default_factory=set)
    base: str | None = None
    base_columns: dict[str, str] = field(default_factory=dict)

    @property
    def is_view(self) -> bool:
        """Return whether the relation is a view over another table."""
        return self.base is not None

    def copy(self) -> Relation:
        """Return a copy that can be changed without changing this one."""
        return replace(
            self,
            columns=dict(self.columns),
            unique=set(self.unique),
            base_columns=dict(self.base_columns),
        )


@dataclass
class Schema:
    """Every relation of a database, by name, and the columns kept filled by triggers."""

    relations: dict[str, Relation] = field(default_factory=dict)
    # (table, column) pairs that a sync trigger fills when a release leaves them out.
    synced: set[tuple[str, str]] = field(default_factory=set)

    def copy(self) -> Schema:
        """Return a copy that can be changed without changing this one."""
        return Schema(
            {name: relation.copy() for name, relation in self.relations.items()},
            set(self.synced),
        )

    def table(self, name: str) -> Relation | None:
        """Return the relation called name, or None."""
        return self.relations.get(name)

    def base_of(self, relation: Relation) -> Relation | None:
        """Return the table a view shows (the relation itself for a table)."""
        if relation.base is None:
            return relation
        return self.relations.get(relation.base)

    def is_filled(self, table: str, column: Column) -> bool:
        """Return whether an insert that leaves column out still gives it a value."""
        return (
            column.null
            or column.default != NO_DEFAULT
            or column.generated
            or (table, column.name) in self.synced
        )


def default_kind(model_field: Any) -> str:
    """Return what a field's ``db_default`` gives each row (NO_DEFAULT, CONSTANT, PER_ROW)."""
    db_default = getattr(model_field, "db_default", NOT_PROVIDED)
    if db_default is NOT_PROVIDED:
        return NO_DEFAULT
    return PER_ROW if _per_row(db_default) else CONSTANT


def _per_row(expression: Any) -> bool:
    if type(expression).__name__ in PER_ROW_EXPRESSIONS:
        return True
    function = getattr(expression, "function", None)
    if isinstance(function, str) and function.lower() in PER_ROW_FUNCTIONS:
        return True
    sources = getattr(expression, "get_source_expressions", None)
    if sources is None:
        return False
    return any(_per_row(source) for source in sources() if source is not None)


def model_relation(model: type[models.Model], connection: Any) -> Relation:
    """Return the table of a rendered model as the database has it."""
    meta = model._meta
    columns: dict[str, Column] = {}
    unique: set[frozenset[str]] = set()
    for model_field in meta.local_concrete_fields:
        column = str(model_field.column)
        columns[column] = Column(
            name=column,
            db_type=model_field.db_type(connection),
            null=bool(model_field.null),
            default=default_kind(model_field),
            generated=bool(getattr(model_field, "generated", False)),
        )
        if model_field.unique:
            unique.add(frozenset({column}))
    by_name = {f.name: str(f.column) for f in meta.local_concrete_fields}
    for names in meta.unique_together:
        unique.add(frozenset(by_name.get(name, name) for name in names))
    for constraint in meta.constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.fields
            and constraint.condition is None
        ):
            unique.add(frozenset(by_name.get(name, name) for name in constraint.fields))
    return Relation(str(meta.db_table), columns, unique)


def has_table(model: type[models.Model]) -> bool:
    """Return whether migrations give model a table of its own (managed, concrete, not proxy)."""
    meta = model._meta
    return bool(meta.managed and not meta.proxy and not meta.abstract)


def tables_of(models_: Iterable[type[models.Model]]) -> Iterator[tuple[str, type[models.Model]]]:
    """Yield (table name, model) for each model that has a table of its own."""
    for model in models_:
        if has_table(model):
            yield str(model._meta.db_table), model
