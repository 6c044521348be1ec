"""``makemigrations`` that splits backwards-incompatible changes into deploy stages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import makemigrations as django_makemigrations
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from green_makemigrations import conf, routing
from green_makemigrations.autodetector import (
    AutodetectorMixin,
    Changes,
    ComposedAutodetector,
    green_autodetector,
)
from green_makemigrations.exceptions import GreenMigrationsError
from green_makemigrations.patching import swap_attribute
from green_makemigrations.plan import graph_stages
from green_makemigrations.questioner import (
    GreenInteractiveQuestioner,
    GreenNonInteractiveQuestioner,
    GreenQuestionerMixin,
)
from green_makemigrations.verify import report
from green_makemigrations.verify.authoring import prove_new_migrations, unproven_message
from green_makemigrations.writer import StagedMigrationWriter

Questioner = TypeVar("Questioner", bound=GreenQuestionerMixin)


if TYPE_CHECKING:
    _CommandBase = django_makemigrations.Command
else:
    _CommandBase = object


class MakemigrationsMixin(_CommandBase):
    """The phased autodetector and staged files, for a makemigrations command.

    Command below is it on Django's makemigrations. Another app's
    makemigrations (a subclass of Django's) gets the stages the same way:
    ``class Command(MakemigrationsMixin, other_app.Command)``, in a project
    app listed first in INSTALLED_APPS (see the composition how-to). Each
    method calls super(), so the other command's own behaviour still runs;
    the autodetector is the other command's with AutodetectorMixin.
    """

    autodetector = ComposedAutodetector()
    # Why --update must not write the files it built (see write_to_last_migration_files()).
    _stage_refusal: str | None = None
    # Whether to prove the migrations before writing them (off with --stock, --skip-verify).
    _verify: bool = True
    # The autodetectors of this run: the proof reuses the last one's states.
    _detectors: list[AutodetectorMixin]

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
        parser.add_argument(
            "--skip-verify",
            action="store_true",
            help=(
                "Write the migrations even if the proof that both releases keep working "
                "through the deploy fails (see verifystages; GREEN_MAKEMIGRATIONS['VERIFY'])."
            ),
        )

    def handle(self, *app_labels: str, **options: Any) -> None:
        """Run Django's makemigrations with this package's writer and questioners."""
        self._verify = conf.verify_enabled() and not options.pop("skip_verify", False)
        detector_class = green_autodetector(type(self).autodetector)
        if options.pop("stock", False):
            self._verify = False  # Django's own migrations (or the other app's), as asked
            self.autodetector = detector_class.base_autodetector  # type: ignore[misc,assignment]
            super().handle(*app_labels, **options)
            return
        self._detectors = []
        self.autodetector = _recording(detector_class, self._detectors)  # type: ignore[misc]
        module = django_makemigrations
        # Read from the databases only if a question needs it (most runs never).
        applied = functools.cache(applied_everywhere)
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
        if self._verify and changes:
            self._prove(changes, update_previous_migration_paths)
        if update_previous_migration_paths is None:
            # Called as Django calls it without --update: a base that overrides
            # it with one parameter (as django-migration-linter does) works too.
            super().write_migration_files(changes)
        else:
            super().write_migration_files(changes, update_previous_migration_paths)

    def _prove(self, changes: Changes, updated: dict[str, str] | None) -> None:
        """Refuse to write migrations whose deploy the proof rejects."""
        replaced = set()
        if updated:
            graph = MigrationLoader(None, ignore_no_migrations=True).graph
            replaced = {leaf for app in updated for leaf in graph.leaf_nodes(app)}
        detector = self._detectors[-1] if self._detectors else None
        lines: list[str] = []
        try:
            for alias in _databases_running(changes):
                proof = prove_new_migrations(
                    changes,
                    connections[alias],
                    replaced=replaced,
                    accept=conf.verify_accept(),
                    old_state=detector.from_state if detector else None,
                    graph=getattr(detector, "graph_given", None),
                )
                if not proof.proven:
                    lines += report.as_text(proof)
        except GreenMigrationsError as error:
            raise CommandError(str(error)) from error
        if not lines:
            return
        if self.dry_run:
            # --dry-run and --check answer no question (a one-off default is
            # asked for by the real run): they say what the proof finds, and
            # refuse nothing the real run would write.
            self.stdout.write(
                "The proof of these migrations, which the real run checks again with "
                "its answers:\n" + "\n".join(lines)
            )
            return
        raise CommandError(unproven_message(lines))


class Command(MakemigrationsMixin, django_makemigrations.Command):
    """Django's makemigrations with the phased autodetector and staged files."""

    help = (
        "Creates new migration(s) for apps, split into a pre-deploy and a "
        "post-deploy migration where a change would break the running release."
    )


def _databases_running(changes: Changes) -> list[str]:
    """Return the databases where an operation of changes runs: where to prove them.

    Each is proven with its own backend. Without routers that is the
    default database (as Django's makemigrations checks the history there
    only); with them, every database the routers let run one of the
    operations (the others' schema does not change).
    """
    if not routing.routed():
        return [DEFAULT_DB_ALIAS]
    return [
        alias
        for alias in routing.migrated_databases()
        if any(
            routing.allows_operation(alias, app_label, operation)
            for app_label, migrations in changes.items()
            for migration in migrations
            for operation in migration.operations
        )
    ]


def _recording(
    base: type[AutodetectorMixin], created: list[AutodetectorMixin]
) -> type[AutodetectorMixin]:
    """Return a subclass of base that appends each instance to created.

    The proof reuses the states of the run's autodetector, which Django
    creates and drops inside handle().
    """

    class Recording(base):  # type: ignore[misc,valid-type]
        graph_given: MigrationGraph | None = None

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

        def changes(self, graph: MigrationGraph, *args: Any, **kwargs: Any) -> Changes:
            self.graph_given = graph  # the migrations on disk, as Django loaded them
            changes: Changes = super().changes(graph, *args, **kwargs)
            return changes

    return Recording


def applied_everywhere() -> frozenset[tuple[str, str]] | None:
    """Return the migrations applied on every database migrate runs on, or None if none can tell.

    Each database records every migration (see routing.migrated_databases()):
    a migration still pending on one of them is pending. A database that
    cannot tell (see applied_in_database()) is left out.
    """
    found = [
        applied
        for alias in routing.migrated_databases()
        if (applied := applied_in_database(alias)) is not None
    ]
    return frozenset.intersection(*found) if found else None


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
    questioner_class: Callable[..., Questioner],
    applied: Callable[[], frozenset[tuple[str, str]] | None],
) -> Callable[..., Questioner]:
    """Return a factory of questioner_class that asks applied what the database has applied."""

    def create(*args: Any, **kwargs: Any) -> Questioner:
        questioner = questioner_class(*args, **kwargs)
        questioner.read_applied_from(applied)
        return questioner

    return create
