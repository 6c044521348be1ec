"""``makemigrations`` that splits backwards-incompatible changes into deploy stages."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import makemigrations as django_makemigrations
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from green_makemigrations.autodetector import Changes, GreenMigrationAutodetector
from green_makemigrations.exceptions import GreenMigrationsError
from green_makemigrations.patching import swap_attribute
from green_makemigrations.plan import graph_stages
from green_makemigrations.questioner import (
    GreenInteractiveQuestioner,
    GreenNonInteractiveQuestioner,
    GreenQuestionerMixin,
)
from green_makemigrations.writer import StagedMigrationWriter

Questioner = TypeVar("Questioner", bound=GreenQuestionerMixin)


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
        applied = applied_in_database(DEFAULT_DB_ALIAS)
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
                    _knowing(partial(GreenInteractiveQuestioner, updating=updating), applied),
                ),
                swap_attribute(
                    module,
                    "NonInteractiveMigrationQuestioner",
                    _knowing(partial(GreenNonInteractiveQuestioner, updating=updating), applied),
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


def applied_in_database(alias: str) -> frozenset[tuple[str, str]] | None:
    """Return the migrations applied in database alias, or None if it cannot tell.

    It cannot when the database is unreachable or has no django_migrations
    table (a new database says nothing about the deployed ones). A squashed
    migration counts as applied once all it replaces are, as migrate counts it.
    """
    connection = connections[alias]
    if connection.settings_dict["ENGINE"] == "django.db.backends.dummy":
        return None
    try:
        if not MigrationRecorder(connection).has_table():
            return None
        loader = MigrationLoader(connection, ignore_no_migrations=True)
    except DatabaseError:
        return None
    return frozenset(loader.applied_migrations or ())


def _knowing(
    questioner_class: Callable[..., Questioner], applied: frozenset[tuple[str, str]] | None
) -> Callable[..., Questioner]:
    """Return a factory of questioner_class that knows what the database has applied."""

    def create(*args: Any, **kwargs: Any) -> Questioner:
        questioner = questioner_class(*args, **kwargs)
        questioner.applied_migrations = applied
        return questioner

    return create
