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
applied) has no old release using its tables. A rollback (a target behind
the applied migrations) is the mirror image: the release running at the
start is the applied one, the release returned to is the target's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.migrations import Migration, operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.migrations.utils import resolve_relation

from .. import routing
from ..constants import Stage
from ..plan import explain_blocked, graph_stages, split_plan
from .derive import EFFECT_HINT, SchemaTracker, Unproven, declared_effect, touched
from .release import CAVEATS, Break, check_release
from .rows import stops_on_rows, undo_stops_on_nulls
from .schema import ModelKey, PartialState, Relation, Schema, StateProjection

OLD = "old"
NEW = "new"
MIGRATION = "migration"  # the "release" of a finding where the migration itself stops
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
    # What holds only under a condition the report states (see release.CAVEATS).
    caveats: list[Finding] = field(default_factory=list)
    # A rollback: the running release is the applied one, the other the target's.
    rollback: bool = False

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
    old_state: ProjectState | None = None,
    targets: Collection[tuple[str, str]] | None = None,
) -> Proof:
    """Prove the plan from the executor loader's applied migrations to the graph's leaves.

    deployed are the app labels a running release may use (default: those
    with a migration applied); accept names migrations ("app_label.name")
    whose unknown operations are accepted as they are. old_state, when the
    caller has it (makemigrations' autodetector does), is the state of the
    applied migrations; it is not changed. targets, when given, end the plan
    instead of the graph's leaves (``migrate app_label``).
    """
    loader = executor.loader
    graph = loader.graph
    # Django's own planning (a stage run's executor filters its plans by stage).
    plan = MigrationExecutor.migration_plan(
        executor, list(targets) if targets is not None else graph.leaf_nodes()
    )
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

    if plan[0][1]:
        return _prove_rollback(
            proof, executor, connection, plan, pre_run, post_run, set(accept), deployed
        )
    pending = [*pre_run, *post_run]
    if old_state is None:
        old_state = _applied_state(executor)
    # Only the models the plan reaches are followed (see applied_tracker()).
    reduced = _copy(old_state, _seed_keys(pending, old_state))
    new_state, plan_keys = _state_after(reduced, pending)
    tracker = applied_tracker(executor, connection, old_state, plan_keys | set(reduced.models))
    plan_keys = _on_database(connection, plan_keys)
    old_tables = _tables(old_state if applied_keys else None, plan_keys, connection)
    new_tables = _tables(new_state, plan_keys, connection)

    def steps(run: list[Migration]) -> Iterator[tuple[Migration, Schema, list[Unproven]]]:
        for migration in run:
            unknown = tracker.apply(migration)
            yield migration, tracker.schema, unknown

    start = tracker.schema.copy()
    _judge(proof, connection, start, steps(pre_run), steps(post_run), old_tables, new_tables)
    if applied_keys:
        _stops_on_rows(proof, connection, old_state, (DURING_PRE, pre_run), (DURING_POST, post_run))
    _sort_unknown(proof, set(accept), deployed)
    return proof


def _stops_on_rows(
    proof: Proof,
    connection: Any,
    deployed_state: ProjectState,
    *stages: tuple[str, list[Migration]],
) -> None:
    """Record the operations that stop on the rows of the deployed release's tables."""
    for moment, run in stages:
        for migration in run:
            for operation in migration.operations:
                if not routing.allows_operation(connection.alias, migration.app_label, operation):
                    continue  # the routers keep its table off this database
                brk = stops_on_rows(migration.app_label, operation, deployed_state, connection)
                _record_stop(proof, moment, migration, operation, brk)


def _record_stop(
    proof: Proof, moment: str, migration: Migration, operation: Operation, brk: Break | None
) -> None:
    """Record that migration's operation (or its undoing) stops on the table's rows, if brk."""
    if brk is not None:
        (proof.caveats if brk.rule in CAVEATS else proof.findings).append(
            Finding(moment, MIGRATION, _label(migration), operation.describe(), brk, brk.fix)
        )


def _prove_rollback(
    proof: Proof,
    executor: MigrationExecutor,
    connection: Any,
    plan: list[tuple[Migration, bool]],
    pre_run: list[Migration],
    post_run: list[Migration],
    accept: set[str],
    deployed: Collection[str],
) -> Proof:
    """Prove a rollback: the mirror image of a deploy.

    The release running at the start is the one of the applied migrations;
    the one the rollback returns to is the state once the plan's migrations
    are unapplied. The schema after unapplying some of them is the schema
    the other applied migrations leave (each followed forwards again).
    """
    proof.rollback = True
    applied = set(executor.loader.applied_migrations or ())
    current = applied_tracker(executor, connection)
    unapplied = {_key(m) for m, _ in plan}
    target = applied_tracker(executor, connection, without=unapplied)
    plan_keys = _touched_by([m for m, _ in plan], (current.state, target.state))
    plan_keys = _on_database(connection, plan_keys)
    old_tables = _tables(current.state if applied else None, plan_keys, connection)
    new_tables = _tables(target.state, plan_keys, connection)
    done: set[tuple[str, str]] = set()

    def steps(run: list[Migration]) -> Iterator[tuple[Migration, Schema, list[Unproven]]]:
        for migration in run:
            done.add(_key(migration))
            schema = applied_tracker(executor, connection, without=done).schema
            yield migration, schema, _unknown_backwards(migration, connection.alias)

    _judge(
        proof, connection, current.schema, steps(pre_run), steps(post_run), old_tables, new_tables
    )
    _undo_stops_on_rows(
        proof, executor, connection, current.state, (DURING_PRE, pre_run), (DURING_POST, post_run)
    )
    _sort_unknown(proof, accept, deployed)
    return proof


def _undo_stops_on_rows(
    proof: Proof,
    executor: MigrationExecutor,
    connection: Any,
    running: ProjectState,
    *stages: tuple[str, list[Migration]],
) -> None:
    """Record the operations whose undoing stops on the table's rows (see rows.py).

    running is the state of the release running before the rollback.
    """
    loader = executor.loader
    for moment, run in stages:
        for migration in run:
            kinds = (operations.RemoveField, operations.AlterField)
            if not any(type(op) in kinds for op in migration.operations):
                continue
            state = loader.project_state(_key(migration), at_end=False)
            after = migration.mutate_state(state, preserve=True)  # the tables holding rows
            for operation in migration.operations:
                if routing.allows_operation(connection.alias, migration.app_label, operation):
                    brk = _undo_stop(
                        migration.app_label, operation, state, after, running, connection
                    )
                    _record_stop(proof, moment, migration, operation, brk)
                operation.state_forwards(migration.app_label, state)


def _undo_stop(
    app_label: str,
    operation: Operation,
    before: ProjectState,
    after: ProjectState,
    running: ProjectState,
    connection: Any,
) -> Break | None:
    """Return how undoing operation (before: the state it ran on) stops on rows, if it does."""
    if type(operation) not in (operations.RemoveField, operations.AlterField):
        return None
    name: str = operation.name  # type: ignore[attr-defined]
    model_key = (app_label, operation.model_name_lower)  # type: ignore[attr-defined]
    model = before.models.get(model_key)
    restored = model.fields.get(name) if model is not None else None
    if restored is None:
        return None
    if type(operation) is operations.RemoveField:
        undo = operations.AddField(operation.model_name, name, restored)
        return stops_on_rows(app_label, undo, after, connection)
    return undo_stops_on_nulls(app_label, operation, restored, running, connection)


def _unknown_backwards(migration: Migration, alias: str) -> list[Unproven]:
    """Return the operations whose reverse changes database alias's schema in unknown ways."""
    label = _label(migration)
    found = []
    for index, operation in enumerate(migration.operations, start=1):
        if declared_effect(operation) is not None:
            continue
        if not routing.allows_operation(alias, migration.app_label, operation):
            continue  # the routers keep it off this database
        if isinstance(operation, operations.RunSQL):
            reverse: Any = operation.reverse_sql
            if reverse in (None, "", [], ()) or reverse == operations.RunSQL.noop:
                continue
        elif isinstance(operation, operations.RunPython):
            if operation.reverse_code in (None, operations.RunPython.noop):
                continue
        else:
            continue
        found.append(
            Unproven(
                label,
                index,
                operation.describe(),
                f"its reverse ({type(operation).__name__}) changes the database in a way that "
                f'cannot be read from it: declare its effect with hints={{"{EFFECT_HINT}": '
                "[...]} or accept the migration by name",
            )
        )
    return found


def _sort_unknown(proof: Proof, accept: set[str], deployed: Collection[str]) -> None:
    """Move the unknown operations that are accepted (by name, or fresh apps) aside."""
    unproven, proof.unproven = proof.unproven, []
    for stage, unknown in unproven:
        # No running release uses the tables of an app none of whose
        # migrations is applied: nothing there for it to break.
        fresh = unknown.migration.partition(".")[0] not in deployed
        target = proof.accepted if unknown.migration in accept or fresh else proof.unproven
        target.append((stage, unknown))


Steps = Iterator[tuple[Migration, Schema, list[Unproven]]]


def _judge(
    proof: Proof,
    connection: Any,
    start: Schema,
    pre_steps: Steps,
    post_steps: Steps,
    old_tables: list[Relation],
    new_tables: list[Relation],
) -> None:
    """Check each moment's schema against the releases running then; record in proof."""
    reported: set[tuple[str, tuple[str, str, str | None, str]]] = set()
    known = {b.key for b in check_release(old_tables, start, connection)}
    blamable: list[Migration] = []

    def record(
        moment: str, release: str, migration: Migration | None, brk: Break, fix: str
    ) -> None:
        if (release, brk.key) in reported:
            return
        reported.add((release, brk.key))
        (proof.caveats if brk.rule in CAVEATS else proof.findings).append(
            Finding(
                moment,
                release,
                _label(migration) if migration else None,
                _operation(migration, brk),
                brk,
                fix,
            )
        )

    schema = start
    for migration, schema, unknown in pre_steps:
        blamable.append(migration)
        proof.unproven += [(Stage.PRE_DEPLOY.value, item) for item in unknown]
        for brk in check_release(old_tables, schema, connection):
            if brk.key not in known:
                record(DURING_PRE, OLD, migration, brk, brk.fix)
    # The new release starts: what it lacks must not wait for post-deploy.
    waiting = {b.key: b for b in check_release(new_tables, schema, connection)}
    for migration, schema, unknown in post_steps:
        blamable.append(migration)
        proof.unproven += [(Stage.POST_DEPLOY.value, item) for item in unknown]
        _check_new_during_post(schema, new_tables, connection, migration, waiting, record)
    for brk in waiting.values():
        # Never mended: from its start (or the post-deploy migration that made
        # it) to the end, the new release meets a schema its models do not fit.
        record(AFTER_PRE, NEW, _blame(blamable, brk), brk, f"{NEVER_SERVED} {brk.fix}")


def applied_tracker(
    executor: MigrationExecutor,
    connection: Any,
    state: ProjectState | None = None,
    keep: set[ModelKey] | None = None,
    without: Collection[tuple[str, str]] = (),
    precise: bool = False,
) -> SchemaTracker:
    """Return a tracker holding the state and the schema of the applied migrations.

    state, when given, is the state of the applied migrations: if none of
    them makes the database differ from its state (see _diverges()), the
    schema is the state's tables and the history is not followed operation
    by operation. keep, with state, are the models the pending plan touches:
    the tracker's state holds only them, and reads the others from state
    (see PartialState).
    without: migrations left out (a rollback's). precise: always follow the
    history operation by operation (the tests compare that with the database).
    """
    loader = executor.loader
    applied = _applied_migrations(executor, without)
    if not precise and not any(_diverges(op) for m in applied for op in m.operations):
        if state is None:
            state = ProjectState(real_apps=loader.unmigrated_apps)
            for migration in applied:
                migration.mutate_state(state, preserve=False)
        projection = StateProjection(state, connection)
        tracker = SchemaTracker(connection, _copy(state, keep))
        # Only the tables the plan may reach: the others are neither changed nor checked.
        for key in tracker.state.models:
            tracker.schema.relations.update(
                {name: relation.copy() for name, relation in projection.relations(key).items()}
            )
        return tracker
    tracker = SchemaTracker(connection, ProjectState(real_apps=loader.unmigrated_apps))
    for migration in applied:
        tracker.apply(migration)
    return tracker


def _applied_migrations(
    executor: MigrationExecutor, without: Collection[tuple[str, str]] = ()
) -> list[Migration]:
    """Return the applied migrations (but those of without), in the order Django applies them."""
    loader = executor.loader
    applied_keys = set(loader.applied_migrations or ()) - set(without)
    return [
        migration
        for migration, _backwards in MigrationExecutor.migration_plan(
            executor, loader.graph.leaf_nodes(), clean_start=True
        )
        if _key(migration) in applied_keys
    ]


def _applied_state(executor: MigrationExecutor) -> ProjectState:
    """Return the state of the applied migrations (unrendered, as migrate builds it)."""
    state = ProjectState(real_apps=executor.loader.unmigrated_apps)
    for migration in _applied_migrations(executor):
        migration.mutate_state(state, preserve=False)
    return state


def _diverges(operation: Operation) -> bool:
    """Return whether an operation leaves the database unlike its state.

    A RunSQL or RunPython without a declared effect is taken to do what its
    state operations say (none: a data migration), as the tracker takes it.
    """
    if isinstance(operation, (operations.RunSQL, operations.RunPython)):
        return declared_effect(operation) is not None
    return isinstance(operation, operations.SeparateDatabaseAndState) or hasattr(
        operation, "schema_effect"
    )


def _copy(state: ProjectState, keep: set[ModelKey] | None = None) -> ProjectState:
    """Return a copy of state that can be changed (its relations recomputed when needed).

    keep: only these models; the others are read from state, which must not
    change afterwards (see PartialState).
    """
    if keep is None:
        return ProjectState(
            {key: model.clone() for key, model in state.models.items()},
            real_apps=state.real_apps,
        )
    if isinstance(state, PartialState):
        rest, own = state.rest, state.own | keep
        found = {key: state.lookup(key) for key in keep}
    else:
        rest, own = state, frozenset(keep)
        found = {key: state.models.get(key) for key in keep}
    models = {key: model.clone() for key, model in found.items() if model is not None}
    return PartialState(models, real_apps=state.real_apps, rest=rest, own=own)


def _on_database(connection: Any, keys: set[ModelKey]) -> set[ModelKey]:
    """Return the models of keys whose tables the routers let connection's database hold.

    The others' tables are not there: no release queries them on this
    database, and no migration changes them.
    """
    if not routing.routed():
        return keys
    return {key for key in keys if routing.allows_model(connection.alias, *key)}


def _touched_by(migrations: list[Migration], states: tuple[ProjectState, ...]) -> set[ModelKey]:
    """Return the models the operations of migrations touch, looked up in each of states."""
    keys: set[ModelKey] = set()
    for migration in migrations:
        for operation in migration.operations:
            for state in states:
                keys |= touched(migration.app_label, operation, state)
    return keys


def _seed_keys(migrations: list[Migration], state: ProjectState) -> set[ModelKey]:
    """Return the models of state that migrations touch or point their new fields at."""
    keys: set[ModelKey] = set()
    for migration in migrations:
        for operation in migration.operations:
            keys |= touched(migration.app_label, operation, state)
            fields = [
                getattr(operation, "field", None),
                *dict(getattr(operation, "fields", ())).values(),
            ]
            for model_field in fields:
                if model_field is not None and model_field.is_relation:
                    keys.add(
                        resolve_relation(model_field.remote_field.model, migration.app_label, "")
                    )
    return keys


def _check_new_during_post(
    schema: Schema,
    new_tables: list[Relation],
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
    now = {b.key: b for b in check_release(new_tables, schema, connection)}
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
            record(DURING_POST, NEW, migration, brk, f"{NEVER_SERVED} {brk.fix}")


def _blame(migrations: list[Migration], brk: Break) -> Migration | None:
    """Return the last migration with an operation on the broken model, if any."""
    for migration in reversed(migrations):
        if _operation(migration, brk) is not None:
            return migration
    return None


def _state_after(
    state: ProjectState, migrations: list[Migration]
) -> tuple[ProjectState, set[ModelKey]]:
    """Return the state after migrations, and the models their operations touch."""
    after = state.clone()
    keys: set[ModelKey] = set()
    for migration in migrations:
        for operation in migration.operations:
            keys |= touched(migration.app_label, operation, after)
            operation.state_forwards(migration.app_label, after)
            keys |= touched(migration.app_label, operation, after)
    return after, keys


def _tables(state: ProjectState | None, keys: set[ModelKey], connection: Any) -> list[Relation]:
    """Return the tables of the models keys names in state, as a release's models see them."""
    if state is None:
        return []
    projection = StateProjection(state, connection)
    tables: dict[str, Relation] = {}
    for key in sorted(keys):
        tables.update(projection.relations(key))
    return list(tables.values())


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
