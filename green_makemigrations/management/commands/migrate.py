"""``migrate`` with ``--stage pre-deploy`` and ``--stage post-deploy``."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError, CommandParser
from django.core.management.commands import migrate as django_migrate
from django.db import connections

from green_makemigrations import conf
from green_makemigrations.autodetector import ComposedAutodetector, only_noticing
from green_makemigrations.checks import stage_rules_enforced
from green_makemigrations.constants import STAGE_CHOICES, Stage
from green_makemigrations.exceptions import GreenMigrationsError
from green_makemigrations.executor import (
    StagedExecutorMixin,
    StagedMigrationExecutor,
    staged_executor,
)
from green_makemigrations.runlock import migrate_run_lock

if TYPE_CHECKING:
    _CommandBase = django_migrate.Command
else:
    _CommandBase = object


class MigrateMixin(_CommandBase):
    """``--stage`` and the staged executor, for a migrate command.

    Command below is it on Django's migrate. Another app's migrate (a
    subclass of Django's) gets the stages the same way:
    ``class Command(MigrateMixin, other_app.Command)``, in a project app
    listed first in INSTALLED_APPS (see the composition how-to). Each method
    calls super(), so the other command's own behaviour still runs; the
    autodetector is the other command's with AutodetectorMixin, as
    MakemigrationsMixin's, and executor_class may be StagedExecutorMixin on
    another app's executor.
    """

    autodetector = ComposedAutodetector()
    executor_class: type[StagedExecutorMixin] = StagedMigrationExecutor

    def add_arguments(self, parser: CommandParser) -> None:
        """Add ``--stage`` to Django's options."""
        super().add_arguments(parser)
        parser.add_argument(
            "--stage",
            choices=STAGE_CHOICES,
            help=(
                "Apply only this deploy stage: 'pre-deploy' before the new code "
                "rolls out (never applies a post-deploy migration, but on a database "
                "with none applied or for an app with none applied), 'post-deploy' "
                "once no server runs the previous release. Without it, everything "
                "is applied."
            ),
        )
        parser.add_argument(
            "--lock-timeout",
            type=float,
            metavar="SECONDS",
            help=(
                "With --stage: how long a migration waits for a lock before it gives "
                "up and is retried (default: GREEN_MAKEMIGRATIONS['LOCK_TIMEOUT'], 0.5). "
                "MariaDB/MySQL round it up to whole seconds; on SQLite it is the busy timeout."
            ),
        )
        parser.add_argument(
            "--lock-retries",
            type=int,
            metavar="N",
            help=(
                "With --stage: how many times a migration that timed out on a lock is "
                "retried, with backoff (default: GREEN_MAKEMIGRATIONS['LOCK_RETRIES'], 10)."
            ),
        )

        parser.add_argument(
            "--skip-verify",
            action="store_true",
            help=(
                "With --stage pre-deploy: apply the stage even if the proof that both "
                "releases keep working through the deploy fails (see verifystages; "
                "GREEN_MAKEMIGRATIONS['VERIFY'])."
            ),
        )
        parser.add_argument(
            "--run-lock-timeout",
            type=float,
            metavar="SECONDS",
            help=(
                "How long to wait for another migrate run on the same database to finish "
                "before giving up, having changed nothing (default: "
                "GREEN_MAKEMIGRATIONS['RUN_LOCK_TIMEOUT'], 600)."
            ),
        )

    def check(self, *args: Any, **kwargs: Any) -> None:
        """Run the system checks but E003/E004, which the stage run enforces itself."""
        token = stage_rules_enforced.set(True)
        try:
            super().check(*args, **kwargs)
        finally:
            stage_rules_enforced.reset(token)

    def handle(self, *args: Any, **options: Any) -> None:
        """Run Django's migrate with a stage-filtering executor."""
        label = options.pop("stage", None)
        stage = Stage.from_label(label) if label else None
        if stage is not None and options["verbosity"] >= 1:
            self.stdout.write(self.style.MIGRATE_HEADING(f"Deploy stage: {stage.label}"))
        timeout = options.pop("lock_timeout", None)
        retries = options.pop("lock_retries", None)
        run_lock_wait = options.pop("run_lock_timeout", None)
        skip_verify = options.pop("skip_verify", False)
        token = only_noticing.set(True)
        try:
            policy = conf.lock_policy(timeout, retries) if stage is not None else None
            with (
                self._run_lock(options, conf.run_lock_timeout(run_lock_wait)),
                staged_executor(
                    stage,
                    policy,
                    self.stdout.write,
                    verify=not skip_verify and not options["plan"] and conf.verify_enabled(),
                    executor_class=self.executor_class,
                ) as executors,
            ):
                super().handle(*args, **options)
        except GreenMigrationsError as error:
            raise CommandError(str(error)) from error
        finally:
            only_noticing.reset(token)
        if stage is None or options["verbosity"] < 1:
            return
        for executor in executors:
            stage_plan = executor.stage_plan
            if stage_plan is None or not stage_plan.deferred:
                continue
            self.stdout.write(
                self.style.MIGRATE_HEADING(f"Left for the {stage.opposite.label} stage:")
            )
            for migration in stage_plan.deferred:
                self.stdout.write(f"  {migration.app_label}.{migration.name}")

    def _run_lock(self, options: dict[str, Any], wait: float) -> AbstractContextManager[None]:
        """Return the database's run lock for this run; none for one that changes nothing.

        Taken before Django's handle() reads which migrations are applied, so
        a run that waited for another one sees what that one applied.
        """
        if options.get("plan") or options.get("check_unapplied"):
            return nullcontext()

        def report(message: str) -> None:
            if options["verbosity"] >= 1:
                self.stdout.write(message)

        return migrate_run_lock(connections[options["database"]], wait, report)


class Command(MigrateMixin, django_migrate.Command):
    """Django's migrate, able to run one deploy stage at a time."""

    help = (
        "Updates database schema. With --stage pre-deploy, applies only what is "
        "safe while the previous release runs; --stage post-deploy applies the rest."
    )
