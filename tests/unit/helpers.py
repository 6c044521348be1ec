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


def check_transaction_split(changes: dict[str, list[Migration]]) -> None:
    """Assert every new migration is atomic or holds only operations run outside one.

    That is the autodetector's promise: an operation that must run outside
    a transaction (CREATE INDEX CONCURRENTLY...) makes only its own migration
    non-atomic. Each migration of an app follows the one before it.
    """
    from green_makemigrations.operations import runs_outside_transaction

    described = describe_changes(changes)
    for app_label, migrations in changes.items():
        for previous, migration in zip([None, *migrations], migrations, strict=False):
            outside = [runs_outside_transaction(op) for op in migration.operations]
            if migration.atomic:
                assert not any(outside), described
            else:
                assert outside and all(outside), described
            if previous is not None:
                assert (app_label, previous.name) in migration.dependencies, described


def joined_stages(
    changes: dict[str, list[Migration]], app_label: str
) -> tuple[Migration, Migration]:
    """Return an app's pre-deploy and post-deploy migrations, each stage joined into one.

    Check that the app has migrations of both stages, pre-deploy first, split
    as check_transaction_split() says. The joined migration holds the
    stage's operations in order, is named after its last migration, depends
    on what its first one depends on, and is atomic if all of them are.
    """
    check_transaction_split(changes)
    migrations = changes[app_label]
    stages = [getattr(migration, "stage", None) for migration in migrations]
    assert stages == sorted(stages, key=list(Stage).index), describe_changes(changes)
    joined = []
    for stage in Stage:
        of_stage = [m for m in migrations if getattr(m, "stage", None) is stage]
        assert of_stage, describe_changes(changes)
        migration = make_migration(
            app_label,
            of_stage[-1].name,
            [operation for m in of_stage for operation in m.operations],
            of_stage[0].dependencies,
            stage,
        )
        migration.atomic = all(m.atomic for m in of_stage)  # type: ignore[misc]
        joined.append(migration)
    return joined[0], joined[1]
