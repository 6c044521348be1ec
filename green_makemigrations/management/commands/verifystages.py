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

    def handle(self, *args: Any, **options: Any) -> None:
        """Prove the plan, print the report, exit 1 unless proven."""
        try:
            proof = self.build_proof(options)
        except GreenMigrationsError as error:
            raise CommandError(str(error)) from error
        self.write_report(proof, options["format"])
        if not proof.proven:
            sys.exit(1)

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
            return prove(executor, connection, database=database, accept=accept, targets=targets)
        executor = MigrationExecutor(connection)
        return prove_pending(executor, _targets(executor, options), accept)

    def write_report(self, proof: Proof, output: str) -> None:
        """Write the proof in the chosen format."""
        if output == "json":
            self.stdout.write(report.as_json(proof))
        elif output == "github":
            for line in report.as_github(proof, _migration_path):
                self.stdout.write(line)
        elif output == "gitlab":
            self.stdout.write(report.as_gitlab(proof, _migration_path))
        else:
            for line in report.as_text(proof):
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
