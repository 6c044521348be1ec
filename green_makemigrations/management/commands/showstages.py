"""``showstages``: the pending migrations split by deploy stage, as text or JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations import Migration, operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import GreenMigrationsError
from green_makemigrations.plan import StageInfo, graph_stages, split_plan


class Command(BaseCommand):
    """Print what ``migrate --stage pre-deploy`` and ``--stage post-deploy`` would do."""

    help = (
        "Shows the pending migrations split by deploy stage, with their operations "
        "(and the tables and columns each post-deploy drop removes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Add the app labels and output options."""
        parser.add_argument("app_label", nargs="*", help="Only these apps' migrations.")
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help='The database to compare against. Defaults to "default".',
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output format: text for people, json for deploy pipelines.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Print the staged plan."""
        try:
            report = self.build_report(options["database"], set(options["app_label"]))
        except GreenMigrationsError as error:
            raise CommandError(str(error)) from error
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.write_text(report)

    def build_report(self, database: str, app_labels: set[str]) -> dict[str, Any]:
        """Return the pending plan of database split by stage, as plain data."""
        executor = MigrationExecutor(connections[database])
        graph = executor.loader.graph
        unknown = app_labels - {key[0] for key in graph.nodes}
        if unknown:
            raise CommandError(f"No migrations for app(s): {', '.join(sorted(unknown))}.")
        targets = [leaf for leaf in graph.leaf_nodes() if not app_labels or leaf[0] in app_labels]
        plan = executor.migration_plan(targets)
        stages = graph_stages(graph)
        pre = split_plan(plan, Stage.PRE_DEPLOY, stages, graph)
        pre_keys = {(m.app_label, m.name) for m, _ in pre.run}
        blocked_by = {
            (m.app_label, m.name): f"{b.app_label}.{b.name}" for m, b in pre.blocked
        }
        entries: dict[str, list[dict[str, Any]]] = {stage.value: [] for stage in Stage}
        for migration, _backwards in plan:
            key = (migration.app_label, migration.name)
            stage = Stage.PRE_DEPLOY if key in pre_keys else Stage.POST_DEPLOY
            state = executor.loader.project_state(key, at_end=False)
            entries[stage.value].append(
                _migration_entry(migration, stages[key], state, blocked_by.get(key))
            )
        return {
            "database": database,
            "pre_deploy": entries[Stage.PRE_DEPLOY.value],
            "post_deploy": entries[Stage.POST_DEPLOY.value],
            "blocked": [
                {"migration": f"{m.app_label}.{m.name}", "blocked_by": f"{b.app_label}.{b.name}"}
                for m, b in pre.blocked
            ],
        }

    def write_text(self, report: dict[str, Any]) -> None:
        """Write the report for people."""
        for stage in Stage:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"{stage.label.capitalize()} stage (migrate --stage {stage.label}):"
                )
            )
            entries = report[stage.value]
            if not entries:
                self.stdout.write("  Nothing to apply.")
            for entry in entries:
                note = f"  (waits for {entry['blocked_by']})" if entry["blocked_by"] else ""
                self.stdout.write(
                    self.style.MIGRATE_LABEL(f"  {entry['migration']}")
                    + f"  [{entry['stage'].replace('_', '-')}, {entry['stage_source']}]{note}"
                )
                for operation in entry["operations"]:
                    self.stdout.write(f"    {operation['description']}")
        if report["blocked"]:
            self.stdout.write(
                self.style.WARNING(
                    "Some pre-deploy migrations wait for post-deploy ones: "
                    "`migrate --stage pre-deploy` refuses this plan."
                )
            )


def _migration_entry(
    migration: Migration, info: StageInfo, state: ProjectState, blocked_by: str | None
) -> dict[str, Any]:
    return {
        "migration": f"{migration.app_label}.{migration.name}",
        "app_label": migration.app_label,
        "name": migration.name,
        "stage": info.stage.value,
        "stage_source": info.source,
        "blocked_by": blocked_by,
        "operations": [
            _operation_entry(operation, migration.app_label, state)
            for operation in migration.operations
        ],
    }


def _operation_entry(operation: Operation, app_label: str, state: ProjectState) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": type(operation).__name__,
        "description": operation.describe(),
    }
    # For drops, say what disappears from the database (the deferred drops
    # deploy pipelines look for).
    try:
        if isinstance(operation, operations.RemoveField):
            model = state.apps.get_model(app_label, operation.model_name)
            field = model._meta.get_field(operation.name)
            entry["table"] = model._meta.db_table
            if field.many_to_many:
                entry["table"] = field.remote_field.through._meta.db_table
            else:
                entry["column"] = field.column
        elif isinstance(operation, operations.DeleteModel):
            entry["table"] = state.apps.get_model(app_label, operation.name)._meta.db_table
    except LookupError:  # pragma: no cover - inconsistent history on disk
        pass
    return entry
