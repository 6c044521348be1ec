"""The database schema as a release meets it: tables, views and their columns.

This is the schema the migrations leave in the database (derive.py builds it
operation by operation), not Django's state: a ``SeparateDatabaseAndState``
or a view can make the two differ, and the proof is about the database.
A table's columns come from Django's own rendering of the model
(``field.db_type(connection)``), so both sides of a comparison speak the
same backend's type names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings
from django.db import models
from django.db.backends.utils import strip_quotes, truncate_name
from django.db.migrations.state import ModelState, ProjectState
from django.db.migrations.utils import resolve_relation
from django.db.models.fields import NOT_PROVIDED
from django.utils.module_loading import import_string

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
# What gives each row its own value even within one statement (now() does not:
# the rows an ALTER TABLE fills all get the statement's time).
DISTINCT_FUNCTIONS = frozenset({"gen_random_uuid", "uuid", "random", "randomblob"})
DISTINCT_EXPRESSIONS = frozenset({"Random", "RandomUUID"})


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
    model: str = ""  # "app_label.Model" of the release model it was projected from

    def same_layout(self, other: Relation) -> bool:
        """Return whether other has the same columns and unique sets."""
        return self.columns == other.columns and self.unique == other.unique

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


def fills_distinct(
    model_field: Any,
    expressions: frozenset[str] = DISTINCT_EXPRESSIONS,
    functions: frozenset[str] = DISTINCT_FUNCTIONS,
) -> bool:
    """Return whether a field's ``db_default`` gives the rows of one statement distinct values.

    expressions and functions: the ones that do (by default, random ones).
    """
    db_default = getattr(model_field, "db_default", NOT_PROVIDED)
    return db_default is not NOT_PROVIDED and _per_row(db_default, expressions, functions)


def _per_row(
    expression: Any,
    expressions: frozenset[str] = PER_ROW_EXPRESSIONS,
    functions: frozenset[str] = PER_ROW_FUNCTIONS,
) -> bool:
    if type(expression).__name__ in expressions:
        return True
    function = getattr(expression, "function", None)
    if isinstance(function, str) and function.lower() in functions:
        return True
    sources = getattr(expression, "get_source_expressions", None)
    if sources is None:
        return False
    return any(
        _per_row(source, expressions, functions) for source in sources() if source is not None
    )


def model_relation(model: type[models.Model], connection: Any) -> Relation:
    """Return the table of a rendered model as the database has it."""
    meta = model._meta
    columns: dict[str, Column] = {}
    for model_field in meta.local_concrete_fields:
        column = str(model_field.column)
        columns[column] = Column(
            name=column,
            db_type=model_field.db_type(connection),
            null=bool(model_field.null),
            default=default_kind(model_field),
            generated=bool(getattr(model_field, "generated", False)),
        )
    names = {f.name: str(f.column) for f in meta.local_concrete_fields}
    unique = _unique_sets(
        [str(f.column) for f in meta.local_concrete_fields if f.unique],
        meta.unique_together,
        meta.constraints,
        names,
    )
    return Relation(str(meta.db_table), columns, unique, model=str(meta.label))


def _unique_sets(
    unique_columns: Iterable[str],
    unique_together: Iterable[Iterable[str]],
    constraints: Iterable[Any],
    columns_by_name: dict[str, str],
) -> set[frozenset[str]]:
    unique = {frozenset({column}) for column in unique_columns}
    for names in unique_together:
        unique.add(frozenset(columns_by_name.get(name, name) for name in names))
    for constraint in constraints:
        if (
            isinstance(constraint, models.UniqueConstraint)
            and constraint.fields
            and constraint.condition is None
        ):
            unique.add(frozenset(columns_by_name.get(name, name) for name in constraint.fields))
    return unique


ModelKey = tuple[str, str]


class PartialState(ProjectState):
    """A state holding the models a plan touches; the others are read, unchanged, from rest.

    Django's state operations look through every model of a state (an
    AlterField asks whether any model references the field), which for a
    large project costs more than the rest of the proof. A model the plan
    never touches does not change: StateProjection reads it from ``rest``
    (a state nobody changes). ``own`` are the models this state answers for:
    one of them missing here is gone, not unchanged.
    """

    def __init__(
        self,
        models: dict[ModelKey, ModelState] | None = None,
        real_apps: set[str] | None = None,
        rest: ProjectState | None = None,
        own: frozenset[ModelKey] = frozenset(),
    ) -> None:
        """Take ProjectState's arguments, the fuller state and the models owned."""
        super().__init__(models, real_apps)
        self.rest = rest
        self.own = own

    def clone(self) -> PartialState:
        """Return an exact copy, reading the same rest."""
        clone = super().clone()
        state = PartialState(clone.models, clone.real_apps, self.rest, self.own)
        state.is_delayed = clone.is_delayed
        return state

    def lookup(self, key: ModelKey) -> ModelState | None:
        """Return the ModelState of key, from rest if the plan never touches it."""
        found = self.models.get(key)
        if found is None and key not in self.own and self.rest is not None:
            return self.rest.models.get(key)
        return found


class StateProjection:
    """The tables of a migration state's models, read from its ModelStates.

    Nothing is rendered (rendering every model of a large project takes
    seconds, and a state changes with every operation): each field gives its
    column as Django names it (``db_column``, or the attname) and its type as
    the field renders it for the backend; a foreign key takes the type of the
    field it points at (``rel_db_type``), and an auto-created many-to-many
    table has Django's name and two foreign-key columns. Models of apps
    without migrations (``real_apps``) are read from the app registry.
    """

    def __init__(self, state: ProjectState, connection: Any) -> None:
        self.state = state
        self.connection = connection
        self.max_name_length = connection.ops.max_name_length()

    def model_state(self, key: ModelKey) -> ModelState | None:
        """Return the ModelState of key (lower-case model name), or None."""
        if isinstance(self.state, PartialState):
            return self.state.lookup(key)
        return self.state.models.get(key)

    def table_name(self, key: ModelKey) -> str | None:
        """Return the table of model key, or None if it has none."""
        model_state = self.model_state(key)
        if model_state is None:
            real = _real_model(key)
            return str(real._meta.db_table) if real is not None else None
        table = model_state.options.get("db_table")
        if table:
            return str(table)
        return truncate_name(f"{key[0]}_{key[1]}", self.max_name_length)

    def many_to_many_table(self, key: ModelKey, field_name: str) -> str | None:
        """Return the table of model key's many-to-many field called field_name."""
        model_state = self.model_state(key)
        model_field: Any = model_state.fields.get(field_name) if model_state is not None else None
        table = self.table_name(key)
        if model_field is None or table is None:
            return None
        through = model_field.remote_field.through
        if through:
            return self.table_name(resolve_relation(through, *key))
        if model_field.db_table:
            return str(model_field.db_table)
        return truncate_name(f"{strip_quotes(table)}_{field_name}", self.max_name_length)

    def field_column(self, key: ModelKey, field_name: str) -> str | None:
        """Return the column of model key's field called field_name, or None."""
        model_state = self.model_state(key)
        model_field = model_state.fields.get(field_name) if model_state is not None else None
        return self.column_name(field_name, model_field) if model_field is not None else None

    def has_table(self, key: ModelKey) -> bool:
        """Return whether migrations give model key a table of its own."""
        model_state = self.model_state(key)
        if model_state is None:
            return False
        options = model_state.options
        return bool(options.get("managed", True) and not options.get("proxy", False))

    def relations(self, key: ModelKey) -> dict[str, Relation]:
        """Return the tables of model key (its own, its auto-created many-to-many ones)."""
        model_state = self.model_state(key)
        if model_state is None or not self.has_table(key):
            return {}
        table = self.table_name(key)
        assert table is not None
        label = f"{key[0]}.{model_state.name}"
        columns: dict[str, Column] = {}
        names: dict[str, str] = {}
        unique_columns: list[str] = []
        found: dict[str, Relation] = {}
        for name, model_field in model_state.fields.items():
            if model_field.many_to_many:
                through = self._many_to_many(key, model_state, name, model_field, table)
                if through is not None:
                    found[through.name] = through
                continue
            column = self.column_name(name, model_field)
            if column is None:
                continue
            names[name] = column
            columns[column] = self._column(key, column, model_field)
            if model_field.unique:
                unique_columns.append(column)
        unique = _unique_sets(
            unique_columns,
            model_state.options.get("unique_together", ()),
            model_state.options.get("constraints", ()),
            names,
        )
        found[table] = Relation(table, columns, unique, model=label)
        return found

    def _column(self, key: ModelKey, column: str, model_field: Any) -> Column:
        """Return the column of a field (cached for fields without relations)."""
        if not model_field.is_relation:
            cached = _COLUMNS.get((id(model_field), column, self.connection.alias))
            if cached is not None and cached[0] is model_field:
                return cached[1]
        info = Column(
            name=column,
            db_type=self.column_type(key, model_field),
            null=bool(model_field.null),
            default=default_kind(model_field),
            generated=bool(getattr(model_field, "generated", False)),
        )
        if not model_field.is_relation:
            if len(_COLUMNS) > 100_000:
                _COLUMNS.clear()
            _COLUMNS[id(model_field), column, self.connection.alias] = (model_field, info)
        return info

    @staticmethod
    def column_name(name: str, model_field: Any) -> str | None:
        """Return the column of a field called name, or None if it has none."""
        if model_field.is_relation and not isinstance(model_field, models.ForeignKey):
            return None  # a many-to-many, or a relation without a column of its own
        if getattr(model_field, "db_column", None):
            return str(model_field.db_column)
        if isinstance(model_field, models.ForeignKey):
            return f"{name}_id"
        if type(model_field).__name__ == "CompositePrimaryKey":
            return None  # its columns are those of its fields
        return name

    def column_type(self, key: ModelKey, model_field: Any, depth: int = 0) -> str | None:
        """Return a field's column type (a foreign key's: its target's ``rel_db_type``)."""
        try:
            if not isinstance(model_field, models.ForeignKey):
                own: str | None = model_field.db_type(self.connection)
                return own
            target = self._target_field(key, model_field)
            if target is None or depth > 10:
                return None
            target_key, target_field = target
            if isinstance(target_field, models.ForeignKey):
                return self.column_type(target_key, target_field, depth + 1)
            rel: str | None = target_field.rel_db_type(self.connection)
            return rel
        except Exception:  # noqa: BLE001  (an exotic field: its type is not compared)
            return None

    def _target_field(self, key: ModelKey, model_field: Any) -> tuple[ModelKey, Any] | None:
        target_key = resolve_relation(model_field.remote_field.model, *key)
        to_field = getattr(model_field.remote_field, "field_name", None)
        model_state = self.model_state(target_key)
        if model_state is None:
            real = _real_model(target_key)
            if real is None:
                return None
            return target_key, real._meta.get_field(to_field) if to_field else real._meta.pk
        if to_field:
            found = model_state.fields.get(to_field)
            return (target_key, found) if found is not None else None
        for model_field_ in model_state.fields.values():
            if getattr(model_field_, "primary_key", False):
                return target_key, model_field_
        return None

    def _many_to_many(
        self, key: ModelKey, model_state: ModelState, name: str, model_field: Any, table: str
    ) -> Relation | None:
        """Return the auto-created table of a many-to-many field (None: a custom through)."""
        if model_field.remote_field.through:
            return None
        target_key = resolve_relation(model_field.remote_field.model, *key)
        through = model_field.db_table or truncate_name(
            f"{strip_quotes(table)}_{name}", self.max_name_length
        )
        source, target = key[1], target_key[1]
        if source == target:
            source, target = f"from_{source}", f"to_{target}"
        pk_type = _default_pk().db_type(self.connection)
        key_types = {
            source: self._pk_type(key),
            target: self._pk_type(target_key),
        }
        columns = {"id": Column("id", pk_type, False)}
        for side in (source, target):
            column = f"{side}_id"
            columns[column] = Column(column, key_types[side], False)
        unique = {frozenset({"id"}), frozenset({f"{source}_id", f"{target}_id"})}
        label = f"{key[0]}.{model_state.name}_{name}"
        return Relation(through, columns, unique, model=label)

    def _pk_type(self, key: ModelKey) -> str | None:
        model_state = self.model_state(key)
        if model_state is None:
            real = _real_model(key)
            pk = real._meta.pk if real is not None else None
            return pk.rel_db_type(self.connection) if pk is not None else None
        for model_field in model_state.fields.values():
            if getattr(model_field, "primary_key", False):
                if isinstance(model_field, models.ForeignKey):
                    return self.column_type(key, model_field)
                return str(model_field.rel_db_type(self.connection))
        return None


# Columns of fields without relations, by field: a field's column depends only on it
# and the backend. The field is kept with its column so that its id is not reused.
_COLUMNS: dict[tuple[int, str, str], tuple[Any, Column]] = {}


def _real_model(key: ModelKey) -> type[models.Model] | None:
    """Return the model of an app without migrations, from the app registry."""
    try:
        return global_apps.get_model(key[0], key[1])
    except LookupError:
        return None


def _default_pk() -> models.Field[Any, Any]:
    """Return the primary key Django gives an auto-created many-to-many table."""
    return import_string(settings.DEFAULT_AUTO_FIELD)(primary_key=True)  # type: ignore[no-any-return]
