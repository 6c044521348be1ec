"""``makemigrations`` that splits backwards-incompatible changes into deploy stages."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import makemigrations as django_makemigrations
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader

from green_makemigrations.autodetector import Changes, GreenMigrationAutodetector
from green_makemigrations.exceptions import GreenMigrationsError
from green_makemigrations.patching import swap_attribute
from green_makemigrations.plan import graph_stages
from green_makemigrations.questioner import (
    GreenInteractiveQuestioner,
    GreenNonInteractiveQuestioner,
)
from green_makemigrations.writer import StagedMigrationWriter


class Command(django_makemigrations.Command):
    """Django's makemigrations with the phased autodetector and staged files."""

    help = (
        "Creates new migration(s) for apps, split into a pre-deploy and a "
        "post-deploy migration where a change would break the running release."
    )
    autodetector = GreenMigrationAutodetector
    # Why --update must not write the files it built (see write_to_last_migration_files()).
    _stage_refusal: str | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--stock`` to Django's options."""
        super().add_arguments(parser)
        parser.add_argument(
            "--stock",
            action="store_true",
            help=(
                "Write Django's own migrations: no split, no stage. Removals then "
                "break the release that is still running during a deploy."
            ),
        )

    def handle(self, *app_labels: str, **options: Any) -> None:
        """Run Django's makemigrations with this package's writer and questioners."""
        if options.pop("stock", False):
            self.autodetector = MigrationAutodetector  # type: ignore[misc,assignment]
            super().handle(*app_labels, **options)
            return
        module = django_makemigrations
        # With --update the changes go into the last migration (or are
        # refused): where new ones would be placed is not worth a question.
        updating = bool(options.get("update"))
        self._stage_refusal = None
        try:
            with (
                swap_attribute(module, "MigrationWriter", StagedMigrationWriter),
                swap_attribute(
                    module,
                    "InteractiveMigrationQuestioner",
                    partial(GreenInteractiveQuestioner, updating=updating),
                ),
                swap_attribute(
                    module,
                    "NonInteractiveMigrationQuestioner",
                    partial(GreenNonInteractiveQuestioner, updating=updating),
                ),
            ):
                super().handle(*app_labels, **options)
        except GreenMigrationsError as error:
            raise CommandError(str(error)) from error

    def write_to_last_migration_files(self, changes: Changes) -> None:
        """Refuse ``--update`` when it would mix stages in one migration.

        Django's own refusals (a squashed, applied or depended-on last
        migration) come first: the stages are compared here, before Django
        adds the changes to the last migrations, and the refusal is raised
        when Django writes them (write_migration_files()).
        """
        loader = MigrationLoader(connections[DEFAULT_DB_ALIAS])
        stages = graph_stages(loader.graph)
        for app_label, app_migrations in changes.items():
            leaves = loader.graph.leaf_nodes(app=app_label)
            if not leaves:
                break  # Django's own error follows.
            leaf_stage = stages[leaves[0]].stage
            new_stages = {m.stage for m in app_migrations if hasattr(m, "stage")}
            mixed = new_stages - {leaf_stage}
            if mixed:
                self._stage_refusal = (
                    f"--update cannot add these changes to {app_label}.{leaves[0][1]}: "
                    f"it is {leaf_stage.label} and the changes need a "
                    f"{', '.join(sorted(s.label for s in mixed))} step, and a migration "
                    "never mixes stages. Run makemigrations without --update."
                )
                break
        super().write_to_last_migration_files(changes)

    def write_migration_files(
        self,
        changes: Changes,
        update_previous_migration_paths: dict[str, str] | None = None,
    ) -> None:
        """Write the migration files, unless ``--update`` would mix stages."""
        if update_previous_migration_paths is not None and self._stage_refusal:
            raise CommandError(self._stage_refusal)
        super().write_migration_files(changes, update_previous_migration_paths)
