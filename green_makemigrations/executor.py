"""The one place that touches migrate's executor: stage plans, resumable runs, lock retries.

A migration that stops (its lock retries spent, rows its DDL refuses) ends the
run with a GreenMigrationsError naming the migration, the operation, what the
database said and what to do; ``migrate`` prints it without a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.management.commands import migrate as migrate_command
from django.db import DatabaseError, DataError, IntegrityError, NotSupportedError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import RunPython, RunSQL
from django.db.migrations.state import ProjectState

from . import conf, mirror, stops
from .backends import get_backend
from .constants import Stage
from .exceptions import (
    LockRetriesExhausted,
    MigrationDataError,
    MigrationStopped,
    StageConfigurationError,
    StagePlanError,
)
from .locks import LockPolicy, applied_timeout, is_lock_error, lock_timeout, write_lock_first
from .operations import runs_outside_transaction
from .patching import swap_attribute
from .plan import (
    StagePlan,
    adopted_apps,
    adopted_notes,
    checked_split,
    fresh_notes,
    graph_stages,
    warnings,
    written_stage,
)
from .resumable import Progress, ResumableOperation
from .verify import report as proof_report
from .verify.proof import Proof, prove

Run = Callable[[ProjectState], ProjectState]


if TYPE_CHECKING:
    _ExecutorBase = MigrationExecutor
else:
    _ExecutorBase = object


class StagedExecutorMixin(_ExecutorBase):
    """A MigrationExecutor whose plans hold only one deploy stage's migrations.

    A mixin for MigrationExecutor or another app's subclass of it;
    StagedMigrationExecutor is it on Django's own, and staged_executor()
    makes ``migrate`` use either.

    With ``stage=None`` it plans like Django (but refuses a migration that
    writes an invalid stage). On databases without transactional DDL
    (MariaDB, MySQL) a migration that failed half-way is finished by a
    re-run: operations whose effect is already in the database are skipped.
    On SQLite the migrations' transactions take the write lock first.
    """

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        progress_callback: Callable[..., Any] | None = None,
        stage: Stage | None = None,
        lock_policy: LockPolicy | None = None,
        report: Callable[[str], None] | None = None,
        verify: bool = False,
    ) -> None:
        super().__init__(connection, progress_callback)
        self.stage = stage
        # Prove the pending plan before a pre-deploy stage starts (see _prove()).
        self.verify = verify
        self.stage_plan: StagePlan | None = None
        self.lock_policy = lock_policy
        self.report = report or (lambda message: None)

    def migration_plan(
        self, targets: Any, clean_start: bool = False
    ) -> list[tuple[Migration, bool]]:
        """Return Django's plan, keeping only this stage's migrations.

        The full plan that ``migrate()`` builds to compute states
        (``clean_start=True``) is left whole.
        """
        plan = super().migration_plan(targets, clean_start=clean_start)
        if clean_start:
            return plan
        if self.stage is None:
            # What the stage runs refuse, a plain run refuses too.
            for migration in self.loader.graph.nodes.values():
                if migration is not None:
                    written_stage(migration)
            return plan
        _refuse_unmatched_overrides(self.loader)
        deployed, adopted = (
            deployed_apps(self, plan) if self.stage is Stage.PRE_DEPLOY else (None, [])
        )
        self.stage_plan = checked_split(
            plan,
            self.stage,
            graph_stages(self.loader.graph),
            self.loader.graph,
            state_before=lambda key: self.loader.project_state(key, at_end=False),
            applied_apps=deployed,
        )
        # Before anything is applied, and under --plan.
        notes = adopted_notes(adopted) + fresh_notes(self.stage_plan)
        for line in notes + warnings(self.stage_plan):
            self.report(line)
        if self.verify and self.stage is Stage.PRE_DEPLOY and plan:
            self._prove(targets, deployed)
        return self.stage_plan.run

    def _prove(self, targets: Any, deployed: Collection[str] | None) -> None:
        """Refuse to start the pre-deploy stage of a plan the proof rejects."""
        proof = prove(
            self,
            self.connection,
            database=self.connection.alias,
            accept=conf.verify_accept(),
            deployed=deployed,
            targets=targets,
        )
        if not proof.proven:
            raise StagePlanError(
                "The pre-deploy stage refuses to start: the proof that both releases keep "
                "working through this deploy fails.\n"
                + "\n".join(proof_report.as_text(proof))
                + "\nNothing was changed. Fix the migrations as each problem says (see "
                "`manage.py verifystages`), or apply them anyway with --skip-verify "
                "(GREEN_MAKEMIGRATIONS['VERIFY'] = False)."
            )

    def apply_migration(
        self,
        state: ProjectState,
        migration: Migration,
        fake: bool = False,
        fake_initial: bool = False,
    ) -> ProjectState:
        """Apply migration, skipping operations a failed earlier run already did."""
        progress = Progress()

        def apply(attempt_state: ProjectState) -> ProjectState:
            with self._resumable(migration, fake, progress):
                return super(StagedExecutorMixin, self).apply_migration(
                    attempt_state, migration, fake=fake, fake_initial=fake_initial
                )

        return self._run(migration, state, apply, fake, progress)

    def unapply_migration(
        self, state: ProjectState, migration: Migration, fake: bool = False
    ) -> ProjectState:
        """Unapply migration, skipping operations a failed earlier run already undid."""
        progress = Progress(backwards=True)

        def unapply(attempt_state: ProjectState) -> ProjectState:
            with (
                self._resumable(migration, fake, progress),
                self._recorded_with_unapply(migration, fake),
            ):
                return super(StagedExecutorMixin, self).unapply_migration(
                    attempt_state, migration, fake=fake
                )

        return self._run(migration, state, unapply, fake, progress)

    def _migrate_all_backwards(
        self,
        plan: list[tuple[Migration, bool]],
        full_plan: list[tuple[Migration, bool]],
        fake: bool,
    ) -> ProjectState:
        """Unapply plan, each migration with the state the database has when it is undone.

        Django computes the state before each migration from the full
        forward plan, whose order between two sibling migrations (a
        pre-deploy one beside a pending post-deploy one, as this package
        writes them) can differ from the backwards plan's. A migration was
        then undone with a state that still held its sibling, already
        undone: on SQLite the table rebuild copied the sibling's dropped
        column back (fuzzer finding F8). The forward plan handed to Django
        lists the migrations that stay applied first, then the ones to undo
        in the reverse of the order they are undone. That is a valid order:
        nothing that stays depends on one that goes, since Django's
        backwards plan takes every applied dependent along.
        """
        going = {migration for migration, _ in plan}
        ordered = [entry for entry in full_plan if entry[0] not in going]
        ordered += [(migration, False) for migration, _ in reversed(plan)]
        state: ProjectState = super()._migrate_all_backwards(plan, ordered, fake=fake)  # type: ignore[misc]
        return state

    def detect_soft_applied(
        self, project_state: ProjectState | None, migration: Migration
    ) -> tuple[bool, ProjectState]:
        """Test whether migration was applied, looking at its own operations."""
        operations = [
            op.operation if isinstance(op, ResumableOperation) else op
            for op in migration.operations
        ]
        with swap_attribute(migration, "operations", operations):
            return super().detect_soft_applied(project_state, migration)

    def _run(
        self,
        migration: Migration,
        state: ProjectState,
        run: Run,
        fake: bool,
        progress: Progress,
    ) -> ProjectState:
        """Run one migration; turn a data error or a refusal into a message, no traceback."""
        try:
            with write_lock_first(self.connection), mirror.rebuilds_keep_mirrors(self.connection):
                return self._with_lock_retries(migration, state, run, fake, progress)
        except (IntegrityError, DataError) as error:
            transactional = self.connection.features.can_rollback_ddl and (
                migration.atomic or self._atomic_elsewhere(migration)
            )
            message = stops.data_error(migration, progress, error, transactional)
            raise MigrationDataError(message) from error
        except NotSupportedError as error:
            raise MigrationStopped(stops.not_supported(migration, progress, error)) from error

    def _with_lock_retries(
        self,
        migration: Migration,
        state: ProjectState,
        run: Run,
        fake: bool,
        progress: Progress,
    ) -> ProjectState:
        """Run one migration under the lock policy, retrying lock timeouts.

        Each attempt gets a fresh copy of the state, since Django mutates it
        as operations run. Where DDL is transactional a failed attempt left
        nothing behind; elsewhere the retry resumes at the operation that
        timed out (progress) and _resumable() finishes what it started.
        """
        policy = self.lock_policy
        if policy is None or fake:
            return run(state)
        timeout = applied_timeout(self.connection, policy.timeout)
        attempt = 1
        while True:
            progress.restart()
            try:
                with lock_timeout(self.connection, policy.timeout):
                    return run(state.clone())
            except DatabaseError as error:
                if not is_lock_error(error):
                    raise
                if attempt > policy.retries:
                    message = stops.lock_retries_exhausted(
                        migration, progress, error, timeout, attempt
                    )
                    raise LockRetriesExhausted(message) from error
                delay = policy.delay(attempt)
                self.report(
                    f"\n  {migration.app_label}.{migration.name}: could not get a lock within "
                    f"{timeout:g} s ({stops.first_line(error)}); retry {attempt} of "
                    f"{policy.retries} in {delay:g} s."
                )
                time.sleep(delay)
                attempt += 1

    @contextmanager
    def _recorded_with_unapply(self, migration: Migration, fake: bool) -> Iterator[None]:
        """Record an atomic migration unapplied in the transaction that unapplies it.

        Django deletes the migration's django_migrations row after the
        unapply's transaction has committed: a run killed in between left a
        migration undone that still showed applied, and the re-run failed
        undoing it again. (Applying, Django records inside the transaction.)
        """
        connection = self.connection
        if fake or not migration.atomic or not connection.features.can_rollback_ddl:
            yield
            return
        # SQLite's schema editor needs foreign key checks off, which can only
        # be switched outside a transaction.
        disabled = (
            get_backend(connection).schema_editor_disables_constraint_checks
            and connection.disable_constraint_checking()
        )
        try:
            with transaction.atomic(using=connection.alias):
                yield
        finally:
            if disabled:
                connection.enable_constraint_checking()

    @contextmanager
    def _resumable(self, migration: Migration, fake: bool, progress: Progress) -> Iterator[None]:
        if fake:
            yield
            return
        if self._atomic_elsewhere(migration):
            # atomic = False is for PostgreSQL's CONCURRENTLY; on SQLite a
            # table rebuild outside a transaction is visible half-done.
            with (
                swap_attribute(migration, "atomic", True),
                self._tracked(migration, progress, check_database=False),
            ):
                yield
            return
        check = not (self.connection.features.can_rollback_ddl and migration.atomic)
        with self._tracked(migration, progress, check_database=check):
            yield

    @contextmanager
    def _tracked(
        self, migration: Migration, progress: Progress, check_database: bool
    ) -> Iterator[None]:
        """Wrap the migration's operations for the block, recording progress."""
        wrapped = [
            ResumableOperation(operation, index, progress, check_database)
            for index, operation in enumerate(migration.operations)
        ]
        with swap_attribute(migration, "operations", wrapped):
            yield

    def _atomic_elsewhere(self, migration: Migration) -> bool:
        """Return whether a migration is non-atomic only for PostgreSQL's sake.

        That is a migration written non-atomic because it holds operations
        that must run outside a transaction on PostgreSQL, and nothing that
        asked for no transaction itself (RunPython or RunSQL with
        ``atomic=False``), run on another database that can roll DDL back.
        """
        if migration.atomic or get_backend(self.connection).concurrent_ddl:
            return False
        if not self.connection.features.can_rollback_ddl:
            return False
        operations = migration.operations
        explicit = any(
            isinstance(op, (RunPython, RunSQL)) and op.atomic is False for op in operations
        )
        return not explicit and any(runs_outside_transaction(op) for op in operations)


class StagedMigrationExecutor(StagedExecutorMixin, MigrationExecutor):
    """Django's MigrationExecutor with the deploy stages (see StagedExecutorMixin)."""


def deployed_apps(
    executor: MigrationExecutor, plan: list[tuple[Migration, bool]]
) -> tuple[set[str], list[str]]:
    """Return the apps a running release may use, and those of them with no migration applied.

    These are the apps with a migration applied, and the apps of plan
    whose tables exist though none of their migrations is applied (see
    plan.adopted_apps()). Only the others' migrations all run in the
    pre-deploy stage.
    """
    applied = {app_label for app_label, _name in executor.loader.applied_migrations or ()}
    if all(app_label in applied for app_label in {m.app_label for m, _ in plan}):
        return applied, []  # nothing to look up
    if plan[0][1]:
        return applied, []  # backwards: stages as ever
    connection = executor.connection
    with connection.cursor() as cursor:
        existing = connection.introspection.table_names(cursor)
    adopted = adopted_apps(plan, applied, existing, connection.ops.max_name_length())
    return applied | set(adopted), adopted


def prove_pending(
    executor: MigrationExecutor, targets: Any = None, accept: Collection[str] = ()
) -> Proof:
    """Return the proof of the executor's database's plan to targets (default: the leaves)."""
    if targets is None:
        targets = executor.loader.graph.leaf_nodes()
    plan = MigrationExecutor.migration_plan(executor, targets)
    return prove(
        executor,
        executor.connection,
        database=executor.connection.alias,
        accept=accept,
        deployed=deployed_apps(executor, plan)[0] if plan else None,
        targets=targets,
    )


def _refuse_unmatched_overrides(loader: Any) -> None:
    """Raise StageConfigurationError if a STAGES key matches no app or migration.

    The migration it meant would run in its inferred stage: a stage run
    refuses to start, as check E002 says.
    """
    labels = {config.label for config in apps.get_app_configs()}
    on_disk = set(loader.disk_migrations) | set(loader.graph.nodes)
    messages = conf.unmatched_stage_keys(labels) + conf.unmatched_stage_keys(labels, on_disk)
    if messages:
        raise StageConfigurationError(
            "\n".join([*messages, "Fix or remove these keys (green_makemigrations.E002)."])
        )


@contextmanager
def staged_executor(
    stage: Stage | None,
    lock_policy: LockPolicy | None = None,
    report: Callable[[str], None] | None = None,
    verify: bool = False,
    executor_class: type[StagedExecutorMixin] = StagedMigrationExecutor,
) -> Iterator[list[StagedExecutorMixin]]:
    """Make ``migrate`` build executor_class's executors for stage within the block.

    Yields the list of executors created, so the command can report what the
    stage left for the other one. verify: prove a pre-deploy stage's plan first.
    executor_class: StagedExecutorMixin on another app's executor, if it has one.
    """
    created: list[StagedExecutorMixin] = []

    def factory(
        connection: BaseDatabaseWrapper, progress_callback: Callable[..., Any] | None = None
    ) -> StagedExecutorMixin:
        executor = executor_class(
            connection,
            progress_callback,
            stage=stage,
            lock_policy=lock_policy,
            report=report,
            verify=verify,
        )
        created.append(executor)
        return executor

    with swap_attribute(migrate_command, "MigrationExecutor", factory):
        yield created
