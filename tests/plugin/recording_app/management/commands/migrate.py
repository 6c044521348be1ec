"""A project's migrate with an executor of its own (see docs/howto/composition.rst)."""

from __future__ import annotations

from typing import Any

from django.db.migrations import Migration
from django.db.migrations.state import ProjectState

from green_makemigrations.executor import StagedMigrationExecutor
from green_makemigrations.management.commands import migrate

APPLIED: list[tuple[str, str]] = []  # (stage, migration name), as the executor applies them


class RecordingExecutor(StagedMigrationExecutor):
    def apply_migration(
        self, state: ProjectState, migration: Migration, *args: Any, **kwargs: Any
    ) -> ProjectState:
        APPLIED.append((str(self.stage), migration.name))
        return super().apply_migration(state, migration, *args, **kwargs)


class Command(migrate.Command):
    executor_class = RecordingExecutor
