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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from .schema import Column, Relation, Schema, model_relation, tables_of

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

    ``state`` is rendered once; each operation re-renders only the models it
    changes (as ``migrate`` does), and a table is projected again only when
    its model class changed.
    """

    def __init__(self, connection: Any, state: ProjectState) -> None:
        self.connection = connection
        self.state = state
        self.schema = Schema()
        self._projections: dict[type[models.Model], Relation] = {}
        # Tables of apps without migrations exist (run_syncdb) whatever the plan does.
        for table, model in self.tables(state).items():
            self.schema.relations[table] = self.project(model).copy()

    def tables(self, state: ProjectState) -> dict[str, type[models.Model]]:
        """Return the models of state that have a table, by table name."""
        return dict(tables_of(state.apps.get_models(include_auto_created=True)))

    def project(self, model: type[models.Model]) -> Relation:
        """Return the table of a rendered model (cached per model class)."""
        relation = self._projections.get(model)
        if relation is None:
            relation = self._projections[model] = model_relation(model, self.connection)
        return relation

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
            reasons: list[str] = []
            effect = declared_effect(operation)
            if effect is not None:
                reasons = self._database_side(app_label, effect, state)
            elif not _is_noop(operation):
                kind = type(operation).__name__
                reasons = [
                    f"{kind} changes the database in a way that cannot be read from it: "
                    f'declare its effect with hints={{"{EFFECT_HINT}": [...]}} (the Django '
                    "operations doing the same to the schema, [] for none) or accept the "
                    "migration by name (GREEN_MAKEMIGRATIONS['VERIFY_ACCEPT'] or "
                    "verifystages --accept)"
                ]
            operation.state_forwards(app_label, state)
            return reasons
        before = self.tables(state)
        operation.state_forwards(app_label, state)
        self._apply_changes(before, self.tables(state))
        effect_of = getattr(operation, "schema_effect", None)
        if effect_of is not None:
            effect_of(app_label, state, self.schema)
        return []

    def _database_side(
        self, app_label: str, database_operations: Sequence[Operation], state: ProjectState
    ) -> list[str]:
        """Apply operations to the schema only, from a copy of state (as Django does)."""
        scratch = state.clone()
        reasons: list[str] = []
        for inner in database_operations:
            reasons += self._run(app_label, inner, scratch)
        return reasons

    def _apply_changes(
        self, before: dict[str, type[models.Model]], after: dict[str, type[models.Model]]
    ) -> None:
        """Change the schema as the models' tables changed from before to after."""
        relations = self.schema.relations
        for table in before.keys() - after.keys():
            if table in relations and not relations[table].is_view:
                del relations[table]
        for table, model in after.items():
            old_model = before.get(table)
            if old_model is model:
                continue
            new = self.project(model)
            current = relations.get(table)
            if old_model is None or current is None or current.is_view:
                relations[table] = new.copy()
                continue
            old = self.project(old_model)
            if old == new:
                continue
            for column in old.columns.keys() - new.columns.keys():
                current.columns.pop(column, None)
            for column, info in new.columns.items():
                if old.columns.get(column) != info:
                    current.columns[column] = info
            current.unique -= old.unique - new.unique
            current.unique |= new.unique - old.unique


def add_view(schema: Schema, name: str, table: str, columns: Sequence[tuple[str, str]]) -> None:
    """Record a view (or a SQLite mirror) called name showing table's columns.

    columns are (table column, view column) pairs; those the table lacks are
    left out, as the database would refuse them.
    """
    base = schema.relations.get(table)
    if base is None:
        return
    view = Relation(name, {}, set(), base=table)
    for column, alias in columns:
        info = base.columns.get(column)
        if info is None:
            continue
        view.columns[alias] = Column(alias, info.db_type, info.null, info.default, info.generated)
        view.base_columns[alias] = column
    schema.relations[name] = view


def drop_view(schema: Schema, name: str) -> None:
    """Forget the view called name (a table of that name is left alone)."""
    relation = schema.relations.get(name)
    if relation is not None and relation.is_view:
        del schema.relations[name]
