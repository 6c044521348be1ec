"""``squashmigrations`` that keeps deploy stages: one squashed migration per stage."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import django
from django.apps import apps
from django.core.management.base import CommandError
from django.core.management.commands import squashmigrations as django_squashmigrations
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.writer import MigrationWriter

from green_makemigrations.exceptions import GreenMigrationsError
from green_makemigrations.patching import swap_attribute
from green_makemigrations.plan import MigrationKey, graph_stages
from green_makemigrations.squash import (
    Squash,
    SquashRefused,
    StageOptimizer,
    ancestors_within,
    refusal,
    shape,
    split_by_stage,
    squash_loader,
    squash_range,
    squashed_names,
)
from green_makemigrations.writer import StagedMigrationWriter

if TYPE_CHECKING:
    _CommandBase = django_squashmigrations.Command
else:
    _CommandBase = object

# Django 6.0 squashes squashed migrations; 5.2 refuses them.
SQUASHES_SQUASHED = django.VERSION >= (6, 0)


class SquashmigrationsMixin(_CommandBase):
    """Deploy stages for a squashmigrations command: one squashed migration per stage.

    Command below is it on Django's squashmigrations. Django's handle()
    squashes what its loader's graph lists and writes with its module's
    MigrationWriter: for each squash, it is handed a loader that knows only
    that squash's migrations, a writer that writes its stage (and
    ``atomic = False`` where a replaced migration is), and an optimizer that
    leaves operations run outside a transaction as they are.
    """

    def handle(self, **options: Any) -> None:
        """Squash the range: whole if it is of one stage, else one squash per stage."""
        try:
            planned = self._plan(options)
        except GreenMigrationsError as error:
            raise CommandError(str(error)) from error
        if planned is None:
            super().handle(**options)  # Django says what is wrong with the arguments.
            return
        loader, migrations, squashes = planned
        if len(squashes) == 1:
            with self._squashing(loader, squashes[0]):
                super().handle(**options)
            return
        self._squash_apart(loader, migrations[0], squashes, options)

    def _plan(
        self, options: dict[str, Any]
    ) -> tuple[MigrationLoader, list[Migration], list[Squash]] | None:
        """Return the loader, the range and its squashes; None where Django refuses the range."""
        app_label = options["app_label"]
        try:
            apps.get_app_config(app_label)
        except LookupError:
            return None
        loader = MigrationLoader(None)
        if app_label not in loader.migrated_apps:
            return None
        end = self.find_migration(loader, app_label, options["migration_name"])
        start_name = options["start_migration_name"]
        start = self.find_migration(loader, app_label, start_name) if start_name else None
        for migration in (start, end):
            if migration is not None:
                _refuse_replaced(loader, migration)
        migrations = squash_range(loader.graph, end, start)
        if migrations is None:
            return None
        squashed = [m.name for m in migrations if m.replaces]
        if squashed and not SQUASHES_SQUASHED:
            raise CommandError(
                f"Cannot squash {', '.join(squashed)}: Django {django.get_version()} does not "
                "squash squashed migrations. Transition them to normal migrations first "
                "(delete the migrations they replace and their `replaces`), or squash a "
                "range after them."
            )
        stages = graph_stages(loader.graph)
        needs = ancestors_within(loader.graph, migrations)
        squashes = split_by_stage(migrations, stages, needs)
        if squashes is None:
            names = [name for label, name in loader.disk_migrations if label == app_label]
            raise SquashRefused(refusal(loader.graph, migrations, stages, needs, names))
        return loader, migrations, squashes

    @contextmanager
    def _squashing(
        self,
        loader: MigrationLoader,
        squash: Squash,
        earlier: dict[MigrationKey, MigrationKey] | None = None,
        name: str | None = None,
    ) -> Iterator[None]:
        """Make Django's handle() squash exactly squash's migrations, with its stage."""

        def writer(migration: Migration, include_header: bool = True) -> StagedMigrationWriter:
            if name is not None and migration.name != name:  # pragma: no cover - Django changed
                raise CommandError(
                    f"Django named the squashed migration {migration.name}, not {name}."
                )
            shape(migration, squash, earlier)
            return StagedMigrationWriter(migration, include_header)

        module = django_squashmigrations
        with (
            swap_attribute(
                module, "MigrationLoader", lambda *args, **kwargs: squash_loader(loader, squash)
            ),
            swap_attribute(module, "MigrationWriter", writer),
            swap_attribute(module, "MigrationOptimizer", StageOptimizer),
        ):
            yield

    def _squash_apart(
        self,
        loader: MigrationLoader,
        first: Migration,
        squashes: list[Squash],
        options: dict[str, Any],
    ) -> None:
        """Write one squashed migration per stage, each after the one it needs."""
        app_label = options["app_label"]
        # Without a start, the range starts at the app's first migration.
        initial = first if options["start_migration_name"] is None else None
        names = squashed_names(squashes, options["squashed_name"], initial)
        for _start, _suffix, name in names:
            if os.path.exists(MigrationWriter(Migration(name, app_label)).path):
                raise CommandError(f"Migration {name} already exists. Use a different name.")
        if options["verbosity"] > 0 or options["interactive"]:
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    "The migrations mix deploy stages: one squashed migration per stage, "
                    "the first run whole before the second."
                )
            )
            for squash, (_start, _suffix, name) in zip(squashes, names, strict=True):
                atomic = "" if squash.atomic else ", not atomic"
                self.stdout.write(f" - {name} ({squash.stage.label}{atomic}) replaces:")
                for migration in squash.migrations:
                    self.stdout.write(f"     {migration.name}")
        if options["interactive"]:
            answer = input("Do you wish to proceed? [y/N] ")
            if answer.strip()[:1].lower() != "y":
                return
        earlier: dict[MigrationKey, MigrationKey] = {}
        for squash, (start, suffix, name) in zip(squashes, names, strict=True):
            with self._squashing(loader, squash, earlier, name):
                super().handle(
                    **{
                        **options,
                        "start_migration_name": start,
                        "migration_name": squash.migrations[-1].name,
                        "squashed_name": suffix,
                        "interactive": False,
                    }
                )
            earlier.update({key: (app_label, name) for key in squash.keys})


def _refuse_replaced(loader: MigrationLoader, migration: Migration) -> None:
    """Raise CommandError if a squashed migration replaces migration (Django uses it instead)."""
    key = (migration.app_label, migration.name)
    if key in loader.graph.nodes:
        return
    replacing = [
        name
        for (label, name), squashed in loader.replacements.items()
        if label == migration.app_label and key in map(tuple, squashed.replaces)
    ]
    if replacing:
        raise CommandError(
            f"Migration {migration.app_label}.{migration.name} is replaced by squashed "
            f"migration {', '.join(replacing)}, which Django uses in its place: name that "
            "one instead, or squash a range after it."
        )


class Command(SquashmigrationsMixin, django_squashmigrations.Command):
    """Django's squashmigrations, keeping deploy stages."""

    help = (
        "Squashes an existing set of migrations (from first until specified) into a "
        "single new one, or one per deploy stage when they mix stages."
    )
