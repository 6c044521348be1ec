"""Builders shared by the unit tests: states, migrations and graphs, no database."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from django.db.migrations import Migration
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState

from green_makemigrations.constants import Stage

MigrationKey = tuple[str, str]


def make_project_state(model_states: Iterable[ModelState]) -> ProjectState:
    """Return a ProjectState holding copies of model_states."""
    project_state = ProjectState()
    for model_state in model_states:
        project_state.add_model(model_state.clone())
    return project_state


def make_migration(
    app_label: str,
    name: str,
    operations: Sequence[Operation] = (),
    dependencies: Sequence[MigrationKey] = (),
    stage: Stage | str | None = None,
) -> Migration:
    """Return a Migration instance, with a ``stage`` attribute when stage is given."""
    attrs: dict[str, Any] = {"operations": list(operations), "dependencies": list(dependencies)}
    if stage is not None:
        attrs["stage"] = stage
    migration_class = type("Migration", (Migration,), attrs)
    return migration_class(name, app_label)


def make_graph(migrations: Iterable[Migration]) -> MigrationGraph:
    """Return a MigrationGraph of migrations, wired by their dependencies."""
    graph = MigrationGraph()
    migrations = list(migrations)
    for migration in migrations:
        graph.add_node((migration.app_label, migration.name), migration)
    for migration in migrations:
        for parent in migration.dependencies:
            graph.add_dependency(migration, (migration.app_label, migration.name), tuple(parent))
    graph.validate_consistency()
    return graph


def apply_operations(
    state: ProjectState, app_label: str, operations: Iterable[Operation]
) -> ProjectState:
    """Return a copy of state with the operations' state changes applied."""
    state = state.clone()
    for operation in operations:
        operation.state_forwards(app_label, state)
    return state


def describe_changes(changes: dict[str, list[Migration]]) -> str:
    """Return the changes as text, for assertion messages."""
    lines = []
    for app_label, migrations in sorted(changes.items()):
        for migration in migrations:
            stage = getattr(migration, "stage", None)
            lines.append(f"{app_label}.{migration.name} [{stage}] <- {migration.dependencies}")
            lines.extend(f"    {operation!r}" for operation in migration.operations)
    return "\n".join(lines)


def load_module(path: Path) -> ModuleType:
    """Import a written migration file as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"written_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
