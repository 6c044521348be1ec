"""``verifystages``: prove that each deploy moment's schema serves the releases running then."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.exceptions import AmbiguityError
from django.db.migrations.executor import MigrationExecutor

from green_makemigrations import conf
from green_makemigrations.exceptions import GreenMigrationsError
from green_makemigrations.executor import prove_pending
from green_makemigrations.verify import report
from green_makemigrations.verify.applied import parse_applied
from green_makemigrations.verify.exercise import Exercise, exercise
from green_makemigrations.verify.proof import Proof, prove

FORMATS = ("text", "json", "github", "gitlab")


class Command(BaseCommand):
    """Prove the pending plan; exit 1 when a release would break or a step is not proven."""

    help = (
        "Proves that the schema after each step of the pending plan (pre-deploy, then "
        "post-deploy) serves the models of every release running then; changes nothing. "
        "Exits 0 when proven, 1 when a release breaks or an operation cannot be proven."
    )
    requires_system_checks: list[str] = []
    # What build_proof() proved: the deployed migrations and the plan's targets.
    _applied: set[tuple[str, str]]
    _targets: list[Any]

    def add_arguments(self, parser: CommandParser) -> None:
        """Add the target, database, output and deployed-state options."""
        parser.add_argument(
            "app_label",
            nargs="?",
            help="Prove the plan to this app's latest migration (as migrate does).",
        )
        parser.add_argument(
            "migration_name",
            nargs="?",
            help=(
                "Prove the plan to this migration of the app: a rollback when it is "
                'applied already ("zero": every migration of the app).'
            ),
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help='The database whose pending plan to prove. Defaults to "default".',
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="text",
            help=(
                "text for people, json for pipelines, github for GitHub Actions annotations, "
                "gitlab for a GitLab Code Quality report."
            ),
        )
        parser.add_argument(
            "--applied",
            metavar="FILE",
            help=(
                "Take the deployed migrations from FILE ('showmigrations --list' output, one "
                "app_label.name per line, or a JSON list) instead of the database; the "
                "database is then not queried."
            ),
        )
        parser.add_argument(
            "--accept",
            action="append",
            default=[],
            metavar="APP_LABEL.MIGRATION",
            help=(
                "Accept the RunSQL/RunPython operations of this migration as they are "
                "(repeatable; adds to GREEN_MAKEMIGRATIONS['VERIFY_ACCEPT'])."
            ),
        )

        parser.add_argument(
            "--exercise",
            action="store_true",
            help=(
                "Then, on a scratch database (the alias's test database name), apply the "
                "deployed migrations and each stage, and run inserts, reads, updates and "
                "deletes through both releases' historical models, rolled back; exit 1 if "
                "one fails. Needs django-test-migrations."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Prove the plan (and exercise it), print the report, exit 1 unless all is well."""
        ran: Exercise | None = None
        try:
            proof = self.build_proof(options)
            if options["exercise"]:
                ran = self.run_exercise(options)
        except GreenMigrationsError as error:
            raise CommandError(str(error)) from error
        self.write_report(proof, options["format"], ran)
        if not proof.proven or (ran is not None and ran.failures):
            sys.exit(1)

    def run_exercise(self, options: dict[str, Any]) -> Exercise:
        """Exercise the plan the proof proved, from the same deployed migrations."""
        return exercise(options["database"], self._targets, self._applied)

    def build_proof(self, options: dict[str, Any]) -> Proof:
        """Return the proof of the database's pending plan (or of the --applied file's)."""
        database = options["database"]
        connection = connections[database]
        accept = set(conf.verify_accept()) | set(options["accept"])
        if options["applied"]:
            path = Path(options["applied"])
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                raise CommandError(f"Cannot read --applied {path}: {error.strerror}.") from None
            executor = MigrationExecutor(None)  # no query: the loader reads files only
            graph = executor.loader.graph
            keys = parse_applied(text, str(path))
            unknown = sorted(f"{a}.{n}" for a, n in keys - set(graph.nodes))
            if unknown:
                raise CommandError(
                    f"--applied {path} names migrations this project does not have: "
                    f"{', '.join(unknown)}. Check that the file comes from this project's "
                    "database and that this checkout holds the deployed release's migrations."
                )
            executor.loader.applied_migrations = {key: graph.nodes[key] for key in keys}
            targets = _targets(executor, options)
            self._applied, self._targets = set(keys), targets
            return prove(executor, connection, database=database, accept=accept, targets=targets)
        executor = MigrationExecutor(connection)
        targets = _targets(executor, options)
        self._applied, self._targets = set(executor.loader.applied_migrations or ()), targets
        return prove_pending(executor, targets, accept)

    def write_report(self, proof: Proof, output: str, ran: Exercise | None = None) -> None:
        """Write the proof (and the exercise, when it ran) in the chosen format."""
        if output == "json":
            self.stdout.write(report.as_json(proof, ran))
        elif output == "github":
            for line in report.as_github(proof, _migration_path, ran):
                self.stdout.write(line)
        elif output == "gitlab":
            self.stdout.write(report.as_gitlab(proof, _migration_path, ran))
        else:
            lines = report.as_text(proof)
            if ran is not None:
                lines += report.exercise_as_text(ran)
            for line in lines:
                self.stdout.write(line)


def _targets(executor: MigrationExecutor, options: dict[str, Any]) -> list[Any]:
    """Return the plan's targets, from the app label and migration name, as migrate reads them."""
    graph = executor.loader.graph
    app_label, name = options["app_label"], options["migration_name"]
    if app_label is None:
        return list(graph.leaf_nodes())
    if app_label not in executor.loader.migrated_apps:
        raise CommandError(f"App '{app_label}' does not have migrations.")
    if name is None:
        return [key for key in graph.leaf_nodes() if key[0] == app_label]
    if name == "zero":
        return [(app_label, None)]
    try:
        migration = executor.loader.get_migration_by_prefix(app_label, name)
    except (AmbiguityError, KeyError) as error:
        raise CommandError(
            f"Cannot find one migration of {app_label} matching '{name}': {error}"
        ) from None
    return [(app_label, migration.name)]


def _migration_path(label: str) -> str | None:
    """Return the file of migration "app_label.name", relative to the working directory."""
    app_label, _dot, name = label.partition(".")
    from django.db.migrations.loader import MigrationLoader

    module_name, _explicit = MigrationLoader.migrations_module(app_label)
    if module_name is None:
        return None
    module = sys.modules.get(f"{module_name}.{name}")
    path: str | None = getattr(module, "__file__", None)
    if path is None:
        return None
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
