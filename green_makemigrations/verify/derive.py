"""Follow migrations forwards: Django's state, and the database schema they leave.

Django computes each operation's SQL from the state before and after it, so
the schema an operation leaves is the schema before it changed as its state
changed: the tables whose models changed get the columns, nullability,
defaults and unique sets of their new rendering. Where the database side
differs from the state, it is followed instead:

- ``SeparateDatabaseAndState`` changes the database by its
  ``database_operations`` (applied, as Django does, to a copy of the state)
  and the state by its ``state_operations``;
- an operation with a ``schema_effect(app_label, state, schema)`` method
  (this package's views, mirrors and sync triggers; any third-party
  operation may declare one) adjusts the schema after its state change;
- ``RunSQL`` and ``RunPython`` change the database in ways nobody can read
  from them: they are *not proven*, unless they declare their effect with
  ``hints={"schema_effect": [operations...]}`` (an empty list: no schema
  change) or do nothing (``RunSQL.noop``, ``RunPython.noop``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.db.migrations import Migration, operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from .. import routing
from .schema import Column, ModelKey, Relation, Schema, StateProjection, model_relation

EFFECT_HINT = "schema_effect"


@dataclass(frozen=True)
class Unproven:
    """An operation whose effect on the schema cannot be known."""

    migration: str  # "app_label.name"
    index: int  # 1-based position in the migration's operations
    description: str
    reason: str


def _is_noop(operation: Operation) -> bool:
    if isinstance(operation, operations.RunSQL):
        return operation.sql in ("", [], ()) or operation.sql == operations.RunSQL.noop
    if isinstance(operation, operations.RunPython):
        return operation.code is operations.RunPython.noop
    return False


def declared_effect(operation: Operation) -> Sequence[Operation] | None:
    """Return the operations a RunSQL or RunPython declares as its schema effect, or None."""
    hints = getattr(operation, "hints", None) or {}
    effect = hints.get(EFFECT_HINT)
    if effect is None:
        return None
    if isinstance(effect, Operation):
        return [effect]
    return list(effect)


class SchemaTracker:
    """Apply migrations to a state and to the database schema they leave.

    Nothing is rendered: before and after each operation, the tables of the
    models it touches (and of the models with a relation to them: their
    foreign keys' types and many-to-many tables follow) are read from the
    state's ModelStates and their difference is applied to the schema.
    """

    def __init__(self, connection: Any, state: ProjectState) -> None:
        self.connection = connection
        self.state = state
        self.schema = Schema()
        # Tables of apps without migrations exist (run_syncdb) whatever the plan does.
        for app_label in sorted(state.real_apps):
            try:
                config = global_apps.get_app_config(app_label)
            except LookupError:
                continue
            for model in config.get_models(include_auto_created=True):
                if model._meta.managed and not model._meta.proxy:
                    relation = model_relation(model, connection)
                    self.schema.relations[relation.name] = relation

    def projection(self, state: ProjectState) -> StateProjection:
        """Return the projection of state."""
        return StateProjection(state, self.connection)

    def apply(self, migration: Migration) -> list[Unproven]:
        """Apply a migration forwards; return its operations whose effect is unknown."""
        unknown: list[Unproven] = []
        label = f"{migration.app_label}.{migration.name}"
        for index, operation in enumerate(migration.operations, start=1):
            for reason in self._run(migration.app_label, operation, self.state):
                unknown.append(Unproven(label, index, operation.describe(), reason))
        return unknown

    def _run(self, app_label: str, operation: Operation, state: ProjectState) -> list[str]:
        """Apply one operation to state and its database side to the schema."""
        if isinstance(operation, operations.SeparateDatabaseAndState):
            separate = self._database_side(app_label, operation.database_operations, state)
            for inner in operation.state_operations:
                inner.state_forwards(app_label, state)
            return separate
        if isinstance(operation, (operations.RunSQL, operations.RunPython)):
            if not routing.allows_operation(self.connection.alias, app_label, operation):
                # Not run on this database (the routers say so): its state changes only.
                operation.state_forwards(app_label, state)
                return []
            effect = declared_effect(operation)
            if effect is not None:
                reasons = self._database_side(app_label, effect, state)
                operation.state_forwards(app_label, state)
                return reasons
            # Its state operations (a RunSQL's) are the best guess of what it does.
            self._state_change(app_label, operation, state)
            if _is_noop(operation):
                return []
            kind = type(operation).__name__
            return [
                f"{kind} changes the database in a way that cannot be read from it: "
                f'declare its effect with hints={{"{EFFECT_HINT}": [...]}} (the Django '
                "operations doing the same to the schema, [] for none) or accept the "
                "migration by name (GREEN_MAKEMIGRATIONS['VERIFY_ACCEPT'] or "
                "verifystages --accept)"
            ]
        self._state_change(app_label, operation, state)
        effect_of = getattr(operation, "schema_effect", None)
        if effect_of is not None:
            effect_of(app_label, self.projection(state), self.schema)
        return []

    def _state_change(self, app_label: str, operation: Operation, state: ProjectState) -> None:
        """Apply operation to state, and to the schema as the tables it touches changed."""
        keys = touched(app_label, operation, state)
        before = self._tables(state, keys)
        operation.state_forwards(app_label, state)
        keys |= touched(app_label, operation, state)
        self._apply_changes(before, self._tables(state, keys))

    def _database_side(
        self, app_label: str, database_operations: Sequence[Operation], state: ProjectState
    ) -> list[str]:
        """Apply operations to the schema only, from a copy of state (as Django does)."""
        scratch = state.clone()
        reasons: list[str] = []
        for inner in database_operations:
            reasons += self._run(app_label, inner, scratch)
        return reasons

    def _tables(self, state: ProjectState, keys: set[ModelKey]) -> dict[str, Relation]:
        projection = self.projection(state)
        tables: dict[str, Relation] = {}
        for key in keys:
            tables.update(projection.relations(key))
        return tables

    def _apply_changes(self, before: dict[str, Relation], after: dict[str, Relation]) -> None:
        """Change the schema as the touched models' tables changed from before to after."""
        relations = self.schema.relations
        for table in before.keys() - after.keys():
            if table in relations and not relations[table].is_view:
                del relations[table]
        for table, new in after.items():
            old = before.get(table)
            current = relations.get(table)
            if old is None or current is None or current.is_view:
                relations[table] = new.copy()
                continue
            if old.same_layout(new):
                continue
            for column in old.columns.keys() - new.columns.keys():
                current.columns.pop(column, None)
            for column, info in new.columns.items():
                if old.columns.get(column) != info:
                    current.columns[column] = info
            current.unique -= old.unique - new.unique
            current.unique |= new.unique - old.unique


def touched(app_label: str, operation: Operation, state: ProjectState) -> set[ModelKey]:
    """Return the models whose tables operation (or its inner operations) may change.

    The models with a relation to them are included when their tables follow
    the change: a model rename renames the ``<model>_id`` columns of their
    many-to-many tables, and a change of a primary key's (or a ``to_field``'s)
    type changes their foreign-key columns.
    """
    inner: list[Operation] | None = None
    if isinstance(operation, operations.SeparateDatabaseAndState):
        inner = [*operation.state_operations, *operation.database_operations]
    elif isinstance(operation, (operations.RunSQL, operations.RunPython)):
        inner = [*getattr(operation, "state_operations", []), *(declared_effect(operation) or [])]
    if inner is not None:
        keys: set[ModelKey] = set()
        for each in inner:
            keys |= touched(app_label, each, state)
        return keys
    related = False
    if hasattr(operation, "model_name_lower"):
        names = {operation.model_name_lower}  # a field, index or constraint operation
        related = _alters_key(app_label, operation, state)
    elif isinstance(operation, operations.RenameModel):
        names = {operation.old_name_lower, operation.new_name_lower}
        related = True
    elif hasattr(operation, "name_lower"):
        names = {operation.name_lower}  # a model operation
    else:
        names = {
            name
            for (label, name) in state.models
            if label == app_label and operation.references_model(name, app_label)
        }
        related = True
    keys = {(app_label, name) for name in names}
    if related:
        relations = state.relations
        for key in list(keys):
            keys.update(relations.get(key, {}))
    return keys


def _alters_key(app_label: str, operation: Operation, state: ProjectState) -> bool:
    """Return whether a field operation may change a column foreign keys point at."""
    field = getattr(operation, "field", None)
    if field is not None and (field.primary_key or field.unique):
        return True
    name = getattr(operation, "name", None) or getattr(operation, "old_name", None)
    model_state = state.models.get((app_label, getattr(operation, "model_name_lower", "")))
    current = model_state.fields.get(name) if model_state is not None and name else None
    return current is not None and bool(current.primary_key or current.unique)


def add_view(
    schema: Schema,
    name: str,
    table: str | None,
    renamed_columns: Mapping[str, str],
    columns: Collection[str] | None = None,
) -> None:
    """Record a view (or a SQLite mirror) called name showing table's columns.

    renamed_columns maps view columns to the table's where they differ;
    columns, when given, are the only view columns (see views.CreateView).
    """
    base = schema.relations.get(table) if table is not None else None
    if base is None or table is None:
        return
    to_view = {column: alias for alias, column in renamed_columns.items()}
    view = Relation(name, {}, set(), base=table)
    for column, info in base.columns.items():
        alias = to_view.get(column, column)
        if columns is not None and alias not in columns:
            continue
        view.columns[alias] = Column(alias, info.db_type, info.null, info.default, info.generated)
        view.base_columns[alias] = column
    schema.relations[name] = view


def drop_view(schema: Schema, name: str) -> None:
    """Forget the view called name (a table of that name is left alone)."""
    relation = schema.relations.get(name)
    if relation is not None and relation.is_view:
        del schema.relations[name]
