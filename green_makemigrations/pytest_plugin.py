"""pytest plugin: rehearse a rolling deploy of your migrations on the test database.

The ``staged_deploy`` fixture takes the test database to the release that is
deployed, runs the pre-deploy stage as ``migrate --stage pre-deploy`` does,
hands over the historical models of both releases that run beside each other
then, runs the post-deploy stage, and at teardown migrates the database back
to the latest migrations (see docs/howto/pytest-plugin.rst)::

    def test_backfill(staged_deploy):
        deploy = staged_deploy(deployed=[("shop", "0004_item_code")])
        old_apps = deploy.before()
        old_apps.get_model("shop", "Item").objects.create(code="A1")
        old_apps, new_apps = deploy.pre_deploy()
        ...
        deploy.post_deploy()

pytest loads the plugin through the ``pytest11`` entry point
``green_makemigrations``. Importing it imports pytest only: Django, the
package's executor, pytest-django and django-test-migrations are imported
when a test requests the fixture, and a project without the last two gets
a fixture that fails with what to install.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, NoReturn, Protocol

import pytest

if TYPE_CHECKING:
    from django.apps.registry import Apps
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.loader import MigrationLoader
    from django_test_migrations.contrib.pytest_plugin import MigratorFactory
    from django_test_migrations.migrator import Migrator

    from .constants import Stage
    from .executor import StagedExecutorMixin

MigrationKey = tuple[str, str]
Target = tuple[str, str | None]  # (app_label, migration name, a prefix of it, or None/"zero")
Targets = Target | Sequence[Target]

# Module -> distribution of what the fixture is built on.
REQUIREMENTS = {
    "pytest_django": "pytest-django",
    "django_test_migrations": "django-test-migrations",
}
STEPS = ("before", "pre_deploy", "post_deploy")


def missing_requirements() -> list[str]:
    """Return the distributions the fixture needs that are not installed."""
    return [
        distribution
        for module, distribution in REQUIREMENTS.items()
        if importlib.util.find_spec(module) is None
    ]


def refuse(message: str) -> NoReturn:
    """Fail the test with message, without a traceback: the test, not the code, is wrong."""
    pytest.fail(message, pytrace=False)


class Releases(NamedTuple):
    """The historical models (apps registries) of the releases running after pre-deploy."""

    old: Apps
    new: Apps


class StagedDeploy:
    """A rolling deploy of the project's migrations on a test database, one step at a time.

    ``deployed`` is the release in production, as migration targets (the
    state ``migrate app_label name`` gives a database at the latest
    migrations); ``targets`` the new release (default: the leaf migrations).
    The steps run in order, each once; a step runs the earlier ones it needs.
    """

    def __init__(
        self,
        migrator: Migrator,
        deployed: Targets,
        targets: Targets | None = None,
        database: str | None = None,
    ) -> None:
        from django.db import DEFAULT_DB_ALIAS
        from django.db.migrations.executor import MigrationExecutor

        from .verify.exercise import last_of, reached

        self.database = database or DEFAULT_DB_ALIAS
        self._migrator = migrator
        # Planned from the migration files alone, without the database.
        planner = MigrationExecutor(None)
        graph = planner.loader.graph
        if not normalized(deployed):
            refuse(
                "staged_deploy(deployed=...) needs the deployed release's migrations, "
                "e.g. [('shop', '0004_x')]."
            )
        deployed_targets = resolve(planner.loader, deployed, "deployed")
        self.targets: list[Target] = (
            list(graph.leaf_nodes())
            if targets is None
            else resolve(planner.loader, targets, "targets")
        )
        applied = applied_at(planner, deployed_targets)
        #: The migrations the deployed release has applied, as the last of each line.
        self.deployed: list[MigrationKey] = last_of(applied, graph)
        planner.loader.applied_migrations = {key: graph.nodes[key] for key in applied}
        self._new = last_of(reached(applied, planner.migration_plan(self.targets)), graph)
        self._loader = planner.loader
        self._done = 0
        self.old_apps: Apps | None = None
        self.new_apps: Apps | None = None
        #: What the stages reported (notes, warnings), as ``migrate --stage`` prints them.
        self.messages: list[str] = []
        #: The migrations each stage applied (or, rolling back, unapplied), in order.
        self.pre_deployed: list[MigrationKey] = []
        self.post_deployed: list[MigrationKey] = []

    def before(self) -> Apps:
        """Bring the database to the deployed release; return that release's models.

        As django-test-migrations' ``Migrator.apply_initial_migration()``, the
        tables are dropped and the deployed migrations applied forwards, so
        that no migration needs to be reversible.
        """
        from django_test_migrations.sql import drop_models_tables, flush_django_migrations_table

        self._start("before")
        drop_models_tables(self.database)
        flush_django_migrations_table(self.database)
        self.old_apps = self._migrator.apply_tested_migration(list(self.deployed)).apps
        return self.old_apps

    def pre_deploy(self, verify: bool | None = None) -> Releases:
        """Run the pre-deploy stage; return the models of the old and of the new release.

        The stage runs as ``migrate --stage pre-deploy`` runs it: it refuses a
        plan the stage rules refuse (StagePlanError, nothing changed) and,
        with verify (default: GREEN_MAKEMIGRATIONS['VERIFY']), one whose
        proof fails. Both releases' models must keep working afterwards.
        """
        from . import conf
        from .constants import Stage

        if self._done < 1:
            self.before()
        self._start("pre_deploy")
        if verify is None:
            verify = conf.verify_enabled()
        self.pre_deployed = self._stage(Stage.PRE_DEPLOY, verify)
        self.new_apps = self._loader.project_state(self._new, at_end=True).apps
        assert self.old_apps is not None
        return Releases(self.old_apps, self.new_apps)

    def post_deploy(self) -> Apps:
        """Run the post-deploy stage; return the new release's models.

        Asserts the stage left nothing of the plan to the targets unapplied.
        """
        from django.db import connections
        from django.db.migrations.executor import MigrationExecutor

        from .constants import Stage

        if self._done < 2:
            self.pre_deploy()
        self._start("post_deploy")
        self.post_deployed = self._stage(Stage.POST_DEPLOY, False)
        left = MigrationExecutor(connections[self.database]).migration_plan(self.targets)
        if left:
            pytest.fail(
                "The post-deploy stage left migrations of the plan unapplied: "
                + ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in left)
            )
        assert self.new_apps is not None
        return self.new_apps

    def _start(self, step: str) -> None:
        index = STEPS.index(step)
        if self._done > index:
            refuse(
                f"deploy.{step}() already ran: a deploy runs before(), pre_deploy() and "
                "post_deploy() once each, in this order. Call staged_deploy() again for "
                "another deploy."
            )
        self._done = index + 1

    def _stage(self, stage: Stage, verify: bool) -> list[MigrationKey]:
        """Run one stage to the targets, as ``migrate --stage``; return the migrations it ran."""
        from django.db import connections

        from . import conf

        executor = executor_class()(
            connections[self.database],
            stage=stage,
            lock_policy=conf.lock_policy(),
            report=self.messages.append,
            verify=verify,
        )
        executor.migrate(self.targets)
        plan = executor.stage_plan.run if executor.stage_plan is not None else []
        return [(migration.app_label, migration.name) for migration, _ in plan]


def executor_class() -> type[StagedExecutorMixin]:
    """Return the executor class of the project's migrate command.

    That is StagedMigrationExecutor, or the one a project composing its
    migrate with another app's sets as ``executor_class`` (see
    docs/howto/composition.rst).
    """
    from django.core.management import get_commands, load_command_class

    from .executor import StagedExecutorMixin, StagedMigrationExecutor

    command = load_command_class(get_commands()["migrate"], "migrate")
    found = getattr(command, "executor_class", None)
    if isinstance(found, type) and issubclass(found, StagedExecutorMixin):
        return found
    return StagedMigrationExecutor


def normalized(targets: Targets) -> list[Target]:
    """Return targets as a list: one (app_label, name) target or a sequence of them."""
    if len(targets) == 2 and isinstance(targets[0], str):
        return [targets]  # type: ignore[list-item]
    return list(targets)  # type: ignore[arg-type]


def resolve(loader: MigrationLoader, targets: Targets, argument: str) -> list[Target]:
    """Return targets with their full migration names, as ``migrate`` reads its arguments.

    Fails the test with what is wrong when an app or a migration is unknown.
    """
    from django.apps import apps
    from django.db.migrations.exceptions import AmbiguityError

    resolved: list[Target] = []
    for app_label, name in normalized(targets):
        where = f"staged_deploy({argument}=...): {app_label}.{name}"
        if app_label not in loader.migrated_apps:
            known = any(config.label == app_label for config in apps.get_app_configs())
            problem = "has no migrations" if known else "is not an installed app label"
            refuse(f"{where}: {app_label!r} {problem}.")
        if name is None or name == "zero":
            resolved.append((app_label, None))
            continue
        names = sorted(key[1] for key in loader.graph.nodes if key[0] == app_label)
        listed = f"The migrations of {app_label}: {', '.join(names)}."
        try:
            migration = loader.get_migration_by_prefix(app_label, name)
        except AmbiguityError:
            refuse(f"{where}: more than one migration of {app_label} starts with {name!r}.")
        except KeyError:
            refuse(f"{where}: no such migration. {listed}")
        if migration.name not in names:
            refuse(f"{where}: {migration.name} is replaced by a squashed migration. {listed}")
        resolved.append((app_label, migration.name))
    return resolved


def applied_at(planner: MigrationExecutor, targets: list[Target]) -> set[MigrationKey]:
    """Return the migrations applied once a database at the latest ones is migrated to targets.

    That is every migration but those Django's plan to targets unapplies;
    targets that contradict each other (one needs what another unapplies)
    fail the test.
    """
    from .verify.exercise import reached

    graph = planner.loader.graph
    planner.loader.applied_migrations = {key: graph.nodes[key] for key in graph.nodes}
    plan = planner.migration_plan(targets)
    applied = reached(graph.nodes, plan)
    if any(not backwards for _, backwards in plan):
        refuse(
            "staged_deploy(deployed=...): the deployed migrations contradict each other: "
            + ", ".join(f"{app}.{name}" for app, name in targets)
            + " (one of them needs a migration that another one leaves unapplied)."
        )
    return applied


class StagedDeployFactory(Protocol):
    """The ``staged_deploy`` fixture: make a StagedDeploy."""

    def __call__(
        self, deployed: Targets, targets: Targets | None = None, database: str | None = None
    ) -> StagedDeploy:
        """Return a deploy from the deployed migrations to targets (default: the leaves)."""


def fail_missing(missing: list[str]) -> NoReturn:
    """Fail a test that requests the fixture without its requirements installed."""
    refuse(
        f"The staged_deploy fixture needs {' and '.join(missing)}: pip install {' '.join(missing)}."
    )


_MISSING = missing_requirements()

if _MISSING:

    @pytest.fixture(name="staged_deploy")
    def _staged_deploy_unavailable() -> StagedDeployFactory:
        """Fail: the fixture's requirements are not installed."""
        fail_missing(_MISSING)

else:

    @pytest.fixture(name="staged_deploy")
    def _staged_deploy(migrator_factory: MigratorFactory) -> StagedDeployFactory:
        """Return a factory of StagedDeploys on the test database.

        Built on django-test-migrations' ``migrator_factory``: the test is
        transactional (pytest-django's ``transactional_db``), marked
        ``migration_test``, skipped under ``--nomigrations``, and each
        deploy's database is migrated to the latest migrations at teardown
        (``Migrator.reset()``).
        """

        def make(
            deployed: Targets, targets: Targets | None = None, database: str | None = None
        ) -> StagedDeploy:
            return StagedDeploy(migrator_factory(database), deployed, targets, database)

        return make
