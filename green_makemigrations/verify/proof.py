"""The proof of a pending plan: each deploy moment's schema against each running release.

A rolling deploy meets two releases: the *old* one, whose models are the
state of the applied migrations, and the *new* one, whose models are the
state of the graph's leaves. The moments:

- during the pre-deploy stage, after each of its migrations: the old
  release runs;
- after the pre-deploy stage: the new release starts beside the old one;
- during the post-deploy stage, after each of its migrations: the new
  release alone.

At each moment the schema the migrations leave (derive.py) is checked
against the models of every release running then (release.py). A query that
fails for the old release already before the deploy is not the plan's doing
and is not reported. The first deploy of an app (none of its migrations
applied) has no old release using its tables.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState

from ..constants import Stage
from ..plan import explain_blocked, graph_stages, split_plan
from .derive import SchemaTracker, Unproven
from .release import Break, check_release

OLD = "old"
NEW = "new"
DURING_PRE = "during pre-deploy"
AFTER_PRE = "after pre-deploy"
DURING_POST = "during post-deploy"
NEVER_SERVED = (
    "No migration of the plan gives the new release this: a migration's database side "
    "differs from its state (a SeparateDatabaseAndState, or a RunSQL whose declared effect "
    "or state operations do not match what it runs). Make the database side do what the "
    "state says."
)


@dataclass(frozen=True)
class Finding:
    """A query that fails for a release at a moment of the deploy, and the migration to blame."""

    moment: str
    release: str
    migration: str | None
    operation: str | None
    brk: Break
    fix: str

    def as_dict(self) -> dict[str, Any]:
        """Return the finding as plain data (the JSON report's entries)."""
        return {
            "moment": self.moment,
            "release": self.release,
            "migration": self.migration,
            "operation": self.operation,
            "rule": self.brk.rule,
            "model": self.brk.model,
            "table": self.brk.table,
            "column": self.brk.column,
            "problem": self.brk.problem,
            "query": self.brk.query,
            "fix": self.fix,
        }


@dataclass
class Proof:
    """What the proof found for one database's pending plan."""

    database: str
    pre_deploy: list[str] = field(default_factory=list)
    post_deploy: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unproven: list[tuple[str, Unproven]] = field(default_factory=list)  # (stage, operation)
    accepted: list[tuple[str, Unproven]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    @property
    def proven(self) -> bool:
        """Return whether every moment is proven safe."""
        return not (self.findings or self.unproven or self.refusals)


def prove(
    executor: MigrationExecutor,
    connection: Any,
    *,
    database: str = "default",
    accept: Collection[str] = (),
    deployed: Collection[str] | None = None,
) -> Proof:
    """Prove the plan from the executor loader's applied migrations to the graph's leaves.

    deployed are the app labels a running release may use (default: those
    with a migration applied); accept names migrations ("app_label.name")
    whose unknown operations are accepted as they are.
    """
    loader = executor.loader
    graph = loader.graph
    plan = executor.migration_plan(graph.leaf_nodes())
    proof = Proof(database)
    if not plan:
        return proof
    applied_keys = set(loader.applied_migrations or ())
    if deployed is None:
        deployed = {app_label for app_label, _name in applied_keys}
    stages = graph_stages(graph)
    pre = split_plan(plan, Stage.PRE_DEPLOY, stages, graph, deployed)
    if pre.blocked:
        proof.refusals.append(explain_blocked(pre, stages))
    pre_run = [m for m, _ in pre.run]
    pre_keys = {_key(m) for m in pre_run}
    post_run = [m for m, _ in plan if _key(m) not in pre_keys]
    proof.pre_deploy = [_label(m) for m in pre_run]
    proof.post_deploy = [_label(m) for m in post_run]

    tracker = applied_tracker(executor, connection)
    state = tracker.state
    old_models = _models(state.clone()) if applied_keys else []
    new_models = _models(loader.project_state())
    reported: set[tuple[str, tuple[str, str, str | None, str]]] = set()
    known = {b.key for b in check_release(old_models, tracker.schema, connection)}

    def record(
        moment: str, release: str, migration: Migration | None, brk: Break, fix: str
    ) -> None:
        if (release, brk.key) in reported:
            return
        reported.add((release, brk.key))
        proof.findings.append(
            Finding(
                moment,
                release,
                _label(migration) if migration else None,
                _operation(migration, brk),
                brk,
                fix,
            )
        )

    accepted = set(accept)
    waiting: dict[tuple[str, str, str | None, str], Break] = {}
    for stage, run in ((Stage.PRE_DEPLOY, pre_run), (Stage.POST_DEPLOY, post_run)):
        for migration in run:
            for unknown in tracker.apply(migration):
                target = proof.accepted if unknown.migration in accepted else proof.unproven
                target.append((stage.value, unknown))
            if stage is Stage.PRE_DEPLOY:
                for brk in check_release(old_models, tracker.schema, connection):
                    if brk.key not in known:
                        record(DURING_PRE, OLD, migration, brk, brk.fix)
            else:
                _check_new_during_post(tracker, new_models, connection, migration, waiting, record)
        if stage is Stage.PRE_DEPLOY:
            # The new release starts: what it lacks must not wait for post-deploy.
            waiting = {b.key: b for b in check_release(new_models, tracker.schema, connection)}
    for brk in waiting.values():
        # Never mended: from its start (or the post-deploy migration that made
        # it) to the end, the new release meets a schema its models do not fit.
        blamed = _blame([*pre_run, *post_run], brk)
        record(AFTER_PRE, NEW, blamed, brk, f"{NEVER_SERVED} {brk.fix}")
    return proof


def applied_tracker(executor: MigrationExecutor, connection: Any) -> SchemaTracker:
    """Return a tracker holding the state and the schema of the applied migrations."""
    loader = executor.loader
    applied_keys = set(loader.applied_migrations or ())
    tracker = SchemaTracker(connection, ProjectState(real_apps=loader.unmigrated_apps))
    for migration, _backwards in executor.migration_plan(
        loader.graph.leaf_nodes(), clean_start=True
    ):
        if _key(migration) in applied_keys:
            tracker.apply(migration)
    return tracker


def _check_new_during_post(
    tracker: SchemaTracker,
    new_models: list[type[models.Model]],
    connection: Any,
    migration: Migration,
    waiting: dict[tuple[str, str, str | None, str], Break],
    record: Callable[[str, str, Migration | None, Break, str], None],
) -> None:
    """Check the new release after a post-deploy migration.

    A break it had since pre-deploy that this migration mends was the new
    release's from its start: the migration belongs to pre-deploy. A break
    this migration makes hits the new release alone.
    """
    now = {b.key: b for b in check_release(new_models, tracker.schema, connection)}
    for key in list(waiting):
        if key not in now:
            brk = waiting.pop(key)
            record(
                AFTER_PRE,
                NEW,
                migration,
                brk,
                f"The new release needs {_label(migration)} when it starts: run it in the "
                "pre-deploy stage (stage = Stage.PRE_DEPLOY), or phase the change so the new "
                "release does not rely on it before post-deploy.",
            )
    for key, brk in now.items():
        if key not in waiting:
            waiting[key] = brk
            record(DURING_POST, NEW, migration, brk, brk.fix)


def _blame(migrations: list[Migration], brk: Break) -> Migration | None:
    """Return the last migration with an operation on the broken model, if any."""
    for migration in reversed(migrations):
        if _operation(migration, brk) is not None:
            return migration
    return None


def _models(state: ProjectState) -> list[type[models.Model]]:
    return list(state.apps.get_models(include_auto_created=True))


def _key(migration: Migration) -> tuple[str, str]:
    return (migration.app_label, migration.name)


def _label(migration: Migration) -> str:
    return f"{migration.app_label}.{migration.name}"


def _operation(migration: Migration | None, brk: Break) -> str | None:
    """Return the description of the migration's operation on the broken table, if one is."""
    if migration is None:
        return None
    app_label, _dot, model_name = brk.model.partition(".")
    on_model = [op for op in migration.operations if op.references_model(model_name, app_label)]
    if brk.column is not None:
        names = {brk.column, brk.column.removesuffix("_id")}
        on_field = [
            op
            for op in on_model
            if any(op.references_field(model_name, name, app_label) for name in names)
        ]
        on_model = on_field or on_model
    return on_model[0].describe() if on_model else None
