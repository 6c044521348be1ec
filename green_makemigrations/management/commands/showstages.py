"""``showstages``: the pending migrations split by deploy stage, as text or JSON."""

from __future__ import annotations

import functools
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import truncate_name
from django.db.migrations import Migration, operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState

from green_makemigrations import routing, rules
from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import GreenMigrationsError, StagePlanError
from green_makemigrations.executor import deployed_apps
from green_makemigrations.plan import (
    StageInfo,
    adopted_notes,
    checked_split,
    fresh_notes,
    graph_stages,
    rule_messages,
    split_plan,
)


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
        """Return the pending plan of database split by stage, as plain data.

        Each stage lists exactly what ``migrate --stage`` applies, computed as
        the stage runs compute it (plan.checked_split()): the pre-deploy stage
        now, then the post-deploy stage after it. A stage that refuses to run
        lists nothing and says why under ``refused``.
        """
        executor = MigrationExecutor(connections[database])
        loader = executor.loader
        graph = loader.graph
        unknown = app_labels - {key[0] for key in graph.nodes}
        if unknown:
            raise CommandError(f"No migrations for app(s): {', '.join(sorted(unknown))}.")
        conflicts = loader.detect_conflicts()
        if conflicts:
            # migrate refuses them (in every app, whatever its app_label): so does the plan.
            found = "; ".join(f"{', '.join(names)} in {app}" for app, names in conflicts.items())
            raise CommandError(
                "Conflicting migrations detected; multiple leaf nodes in the migration graph: "
                f"({found}).\nTo fix them run 'python manage.py makemigrations --merge'"
            )
        targets = [leaf for leaf in graph.leaf_nodes() if not app_labels or leaf[0] in app_labels]
        plan = executor.migration_plan(targets)
        stages = graph_stages(graph)
        state_before = functools.cache(lambda key: loader.project_state(key, at_end=False))
        deployed, adopted = deployed_apps(executor, plan)
        pre_deploy = split_plan(plan, Stage.PRE_DEPLOY, stages, graph, deployed)
        blocked = pre_deploy.blocked
        early = {(m.app_label, m.name) for m in pre_deploy.early}
        blocked_by = {(m.app_label, m.name): f"{b.app_label}.{b.name}" for m, b in blocked}
        runs: dict[str, list[Migration]] = {}
        refused: dict[str, str | None] = {}
        remaining = list(plan)
        for stage in Stage:
            try:
                stage_plan = checked_split(remaining, stage, stages, graph, state_before, deployed)
            except StagePlanError as error:
                runs[stage.value], refused[stage.value] = [], str(error)
                continue
            runs[stage.value], refused[stage.value] = [m for m, _ in stage_plan.run], None
            done = {(m.app_label, m.name) for m in runs[stage.value]}
            remaining = [(m, b) for m, b in remaining if (m.app_label, m.name) not in done]
        max_name_length = connections[database].ops.max_name_length()
        rule_report: dict[str, list[dict[str, Any]]] = {"errors": [], "warnings": []}
        entries: dict[str, list[dict[str, Any]]] = {stage.value: [] for stage in Stage}
        for migration, _backwards in plan:
            key = (migration.app_label, migration.name)
            for message in rule_messages(migration, stages[key], state_before):
                rule_report["errors" if message.is_error else "warnings"].append(
                    {
                        "id": f"green_makemigrations.{message.id}",
                        "migration": f"{migration.app_label}.{migration.name}",
                        "message": message.msg,
                        "hint": message.hint,
                    }
                )
        for stage in Stage:
            for migration in runs[stage.value]:
                key = (migration.app_label, migration.name)
                # Only drops need the state before the migration (it is costly).
                state = state_before(key) if rules.drops_data(migration.operations) else None
                entries[stage.value].append(
                    _migration_entry(
                        migration,
                        stages[key],
                        state,
                        blocked_by.get(key),
                        max_name_length,
                        fresh_app=stage is Stage.PRE_DEPLOY and key in early,
                        database=database,
                    )
                )
        return {
            "database": database,
            "first_deploy": pre_deploy.first_deploy,
            "fresh_apps": pre_deploy.fresh_apps,
            "adopted_apps": adopted,
            "notes": adopted_notes(adopted) + fresh_notes(pre_deploy),
            "pre_deploy": entries[Stage.PRE_DEPLOY.value],
            "post_deploy": entries[Stage.POST_DEPLOY.value],
            "refused": refused,
            "blocked": [
                {"migration": f"{m.app_label}.{m.name}", "blocked_by": f"{b.app_label}.{b.name}"}
                for m, b in blocked
            ],
            **rule_report,
        }

    def write_text(self, report: dict[str, Any]) -> None:
        """Write the report for people."""
        for note in report["notes"]:
            self.stdout.write(note)
        for stage in Stage:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"{stage.label.capitalize()} stage (migrate --stage {stage.label}):"
                )
            )
            entries = report[stage.value]
            refusal = report["refused"][stage.value]
            if refusal:
                self.stdout.write(self.style.ERROR("  Refused, nothing is applied:"))
                for line in refusal.splitlines():
                    self.stdout.write(f"    {line}")
            elif not entries:
                self.stdout.write("  Nothing to apply.")
            for entry in entries:
                note = f"  (waits for {entry['blocked_by']})" if entry["blocked_by"] else ""
                early = "; its app has no migration applied" if entry["fresh_app"] else ""
                self.stdout.write(
                    self.style.MIGRATE_LABEL(f"  {entry['migration']}")
                    + f"  [{entry['stage'].replace('_', '-')}, {entry['stage_source']}{early}]"
                    + note
                )
                for operation in entry["operations"]:
                    self.stdout.write(f"    {operation['description']}")
                for operation in entry["elsewhere"]:
                    self.stdout.write(
                        f"    Not on this database (routers): {operation['description']}"
                    )
        if report["blocked"]:
            self.stdout.write(
                self.style.WARNING(
                    "Some pre-deploy migrations wait for post-deploy ones: "
                    "`migrate --stage pre-deploy` refuses this plan."
                )
            )
        for kind, title, style in (
            ("errors", "Stage rule errors:", self.style.ERROR),
            ("warnings", "Stage rule warnings:", self.style.WARNING),
        ):
            if report[kind]:
                self.stdout.write(style(title))
            for message in report[kind]:
                self.stdout.write(f"  {message['id']}: {message['message']}")
                self.stdout.write(f"    {message['hint']}")


def _migration_entry(
    migration: Migration,
    info: StageInfo,
    state: ProjectState | None,
    blocked_by: str | None,
    max_name_length: int | None,
    fresh_app: bool = False,
    database: str = DEFAULT_DB_ALIAS,
) -> dict[str, Any]:
    # Django records the migration on every database it migrates; its
    # operations change only the databases the routers let hold their tables.
    here = [
        routing.allows_operation(database, migration.app_label, operation)
        for operation in migration.operations
    ]
    return {
        "migration": f"{migration.app_label}.{migration.name}",
        "app_label": migration.app_label,
        "name": migration.name,
        "stage": info.stage.value,
        "stage_source": info.source,
        "blocked_by": blocked_by,
        # A migration of the other stage that the pre-deploy stage runs: its
        # app has no migration applied, so no running release uses its tables.
        "fresh_app": fresh_app,
        "operations": [
            _operation_entry(operation, migration.app_label, state, max_name_length)
            for operation, runs in zip(migration.operations, here, strict=True)
            if runs
        ],
        "elsewhere": [
            {"type": type(operation).__name__, "description": operation.describe()}
            for operation, runs in zip(migration.operations, here, strict=True)
            if not runs
        ],
    }


def _operation_entry(
    operation: Operation, app_label: str, state: ProjectState | None, max_name_length: int | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": type(operation).__name__,
        "description": operation.describe(),
    }
    # For drops, say what disappears from the database (the deferred drops
    # deploy pipelines look for). Read it from the model states: rendering
    # the project's models for every migration would be slow.
    if state is None:
        return entry
    if isinstance(operation, operations.RemoveField):
        model_state = state.models.get((app_label, operation.model_name_lower))
        field = model_state.fields.get(operation.name) if model_state else None
        if model_state is None or field is None:  # pragma: no cover - inconsistent history
            return entry
        table = _table(model_state, max_name_length)
        if field.many_to_many:
            entry["table"] = _through_table(field, table, operation.name, state, max_name_length)
        else:
            column_field = field.clone()
            column_field.set_attributes_from_name(operation.name)
            entry["table"] = table
            entry["column"] = column_field.column
    elif isinstance(operation, operations.DeleteModel):
        model_state = state.models.get((app_label, operation.name_lower))
        if model_state is not None:
            entry["table"] = _table(model_state, max_name_length)
    return entry


def _table(model_state: ModelState, max_name_length: int | None) -> str:
    """Return a model's table name as Django's Options would compute it."""
    db_table = model_state.options.get("db_table")
    if db_table:
        return str(db_table)
    return truncate_name(f"{model_state.app_label}_{model_state.name_lower}", max_name_length)


def _through_table(
    field: Any, table: str, name: str, state: ProjectState, max_name_length: int | None
) -> str:
    """Return the table of a many-to-many field's through model."""
    through = field.remote_field.through
    if isinstance(through, str):
        label, _, model_name = through.rpartition(".")
        through_state = state.models.get((label, model_name.lower()))
        if through_state is not None:
            return _table(through_state, max_name_length)
    if field.db_table:
        return str(field.db_table)
    return truncate_name(f"{table}_{name}", max_name_length)
