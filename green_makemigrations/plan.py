"""Pure planning: the stage of each migration and a plan filtered by stage."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.backends.utils import truncate_name
from django.db.migrations import Migration, operations
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from . import conf, rules
from .constants import STAGE_SPELLINGS, Stage
from .exceptions import StageConfigurationError, StagePlanError

MigrationKey = tuple[str, str]
Plan = Sequence[tuple[Migration, bool]]


@dataclass(frozen=True)
class StageInfo:
    """The stage of one migration and where it came from.

    ``source`` is ``"written"`` (the migration file says it), ``"settings"``
    (GREEN_MAKEMIGRATIONS['STAGES']) or ``"inferred"`` (from its operations).
    """

    stage: Stage
    source: str


def written_stage(migration: Any) -> Stage | None:
    """Return the stage a migration file writes, or None."""
    value = getattr(migration, "stage", None)
    if value is None:
        return None
    try:
        return Stage.from_label(value)
    except ValueError:
        raise StageConfigurationError(
            f"Migration {migration.app_label}.{migration.name} has stage = {value!r}; "
            f"use {STAGE_SPELLINGS}."
        ) from None


def mark_stage(migration: Migration, stage: Stage) -> None:
    """Set the stage a new migration is written with."""
    migration.stage = stage  # type: ignore[attr-defined]


def resolve_stage(
    migration: Migration,
    overrides: Mapping[str, Stage] | None = None,
    parent_stages: Iterable[Stage] = (),
) -> StageInfo:
    """Return the stage of migration: written, else from settings, else inferred.

    An inferred migration without operations (a merge) that depends on a
    post-deploy migration is post-deploy too: it could not run before it.
    """
    stage = written_stage(migration)
    if stage is not None:
        return StageInfo(stage, "written")
    if overrides is None:
        overrides = conf.stage_overrides()
    for key in (f"{migration.app_label}.{migration.name}", migration.app_label):
        if key in overrides:
            return StageInfo(overrides[key], "settings")
    stage = rules.infer_stage(migration.operations)
    if not migration.operations and Stage.POST_DEPLOY in set(parent_stages):
        stage = Stage.POST_DEPLOY
    return StageInfo(stage, "inferred")


def graph_stages(graph: MigrationGraph) -> dict[MigrationKey, StageInfo]:
    """Return the stage of every migration in the graph."""
    overrides = conf.stage_overrides()
    stages: dict[MigrationKey, StageInfo] = {}
    # Parents first, so merges can inherit post-deploy from theirs.
    for key in _topological(graph):
        parents = graph.node_map[key].parents
        migration = graph.nodes[key]
        if migration is None:  # a bare node (graphs built by hand, in tests)
            continue
        stages[key] = resolve_stage(
            migration,
            overrides,
            (stages[parent.key].stage for parent in parents if parent.key in stages),
        )
    return stages


def _topological(graph: MigrationGraph) -> list[MigrationKey]:
    order: list[MigrationKey] = []
    seen: set[MigrationKey] = set()
    for leaf in graph.leaf_nodes():
        for key in graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                order.append(key)
    return order


@dataclass
class StagePlan:
    """A migrate plan split by stage.

    ``run`` is what the stage applies (or unapplies), in order; ``deferred``
    belongs to the other stage; ``blocked`` pairs a migration of this stage
    with the deferred migration it cannot run without. ``warnings`` are what
    the stage rules say about the migrations of ``run`` without refusing
    them (set by checked_split()).

    ``fresh_apps`` are the apps of the plan that have no migration applied
    (in plan order) when the pre-deploy stage runs forwards; ``early`` the
    post-deploy migrations of theirs that it runs all the same (no release
    uses the tables of an app that has none of its migrations applied).
    ``first_deploy`` says the database has no migration applied at all.
    """

    stage: Stage
    backwards: bool
    run: list[tuple[Migration, bool]] = field(default_factory=list)
    deferred: list[Migration] = field(default_factory=list)
    blocked: list[tuple[Migration, Migration]] = field(default_factory=list)
    warnings: list[RuleMessage] = field(default_factory=list)
    fresh_apps: list[str] = field(default_factory=list)
    early: list[Migration] = field(default_factory=list)
    first_deploy: bool = False


def split_plan(
    plan: Plan,
    stage: Stage,
    stages: Mapping[MigrationKey, StageInfo],
    graph: MigrationGraph,
    applied_apps: Collection[str] | None = None,
) -> StagePlan:
    """Return the part of plan that belongs to stage.

    Forwards, the pre-deploy stage runs pre-deploy migrations whose
    dependencies allow it, and the post-deploy stage runs everything left.
    Backwards the roles swap: un-applying a drop restores what the old
    release needs, so it belongs to the rollback's pre-deploy stage.

    applied_apps, when given, are the app labels that have a migration
    applied in the database. Forwards, the pre-deploy stage also runs the
    post-deploy migrations of the other apps: no running release uses the
    tables of an app none of whose migrations is applied (on an empty
    database, no release runs at all). Only as far as their dependencies
    allow: one that depends on a migration the stage leaves (a post-deploy
    migration of a deployed app) waits for the post-deploy stage.
    """
    backwards = bool(plan) and plan[0][1]
    result = StagePlan(stage=stage, backwards=backwards)
    if stage is Stage.POST_DEPLOY:
        result.run = list(plan)
        return result
    fresh: set[str] = set()
    if applied_apps is not None and not backwards:
        result.fresh_apps = list(
            dict.fromkeys(m.app_label for m, _ in plan if m.app_label not in applied_apps)
        )
        fresh = set(result.fresh_apps)
        result.first_deploy = bool(plan) and not applied_apps
    # Roles reverse when migrating backwards.
    wanted = Stage.PRE_DEPLOY if not backwards else Stage.POST_DEPLOY
    held: dict[MigrationKey, Migration] = {}
    for migration, is_backwards in plan:
        key = (migration.app_label, migration.name)
        # Forwards a migration needs its parents; backwards, its children
        # must be un-applied first.
        node = graph.node_map[key]
        related = node.children if backwards else node.parents
        blocker = next((held[n.key] for n in related if n.key in held), None)
        if stages[key].stage is not wanted:
            if migration.app_label not in fresh or blocker is not None:
                held[key] = migration
                result.deferred.append(migration)
                continue
            result.early.append(migration)
        elif blocker is not None:
            held[key] = migration
            result.blocked.append((migration, blocker))
            continue
        result.run.append((migration, is_backwards))
    return result


def created_tables(migration: Migration, max_name_length: int | None) -> set[str]:
    """Return the tables of the managed, concrete models that migration creates."""
    tables = set()
    for operation in migration.operations:
        for inner in rules.database_operations(operation):
            if not isinstance(inner, operations.CreateModel):
                continue
            options = inner.options
            if options.get("proxy") or not options.get("managed", True):
                continue
            table = options.get("db_table") or truncate_name(
                f"{migration.app_label}_{inner.name_lower}", max_name_length
            )
            tables.add(str(table))
    return tables


def adopted_apps(
    plan: Plan,
    applied_apps: Collection[str],
    existing_tables: Collection[str],
    max_name_length: int | None,
) -> list[str]:
    """Return the apps of plan with no migration applied whose tables exist all the same.

    Their tables were made without migrations (an app given its first
    migrations, applied with --fake-initial) or their migrations were
    unapplied with --fake: a running release may use them, so their
    migrations keep their stages.
    """
    existing = {name.lower() for name in existing_tables}
    adopted: list[str] = []
    for migration, backwards in plan:
        if backwards or migration.app_label in applied_apps or migration.app_label in adopted:
            continue
        if any(t.lower() in existing for t in created_tables(migration, max_name_length)):
            adopted.append(migration.app_label)
    return adopted


def adopted_notes(app_labels: Sequence[str]) -> list[str]:
    """Return the lines a stage run prints about the apps adopted_apps() found."""
    return [
        f"App {app_label!r} has no migration applied but its tables exist: a running "
        "release may use them, so its migrations keep their stages."
        for app_label in app_labels
    ]


def fresh_notes(stage_plan: StagePlan | None) -> list[str]:
    """Return the lines a stage run prints about the apps it runs whole (none without a plan)."""
    if stage_plan is None:
        return []
    if stage_plan.first_deploy:
        return [
            "First deploy: no migration is applied, so every migration runs in the "
            "pre-deploy stage (no release runs on this database yet)."
        ]
    waiting = {m.app_label for m in stage_plan.deferred} | {
        m.app_label for m, _ in stage_plan.blocked
    }
    lines = []
    for app_label in stage_plan.fresh_apps:
        if app_label in waiting:
            lines.append(
                f"App {app_label!r} has no migration applied: its migrations run in the "
                "pre-deploy stage (no release uses its tables yet), but for those that "
                "wait for a post-deploy migration of a deployed app."
            )
        else:
            lines.append(
                f"App {app_label!r} has no migration applied: its migrations all run in the "
                "pre-deploy stage (no release uses its tables yet)."
            )
    return lines


def explain_blocked(stage_plan: StagePlan, stages: Mapping[MigrationKey, StageInfo]) -> str:
    """Return the error message for a stage plan with blocked migrations."""
    lines = [
        f"The {stage_plan.stage.label} stage cannot run: "
        f"{len(stage_plan.blocked)} migration(s) belong to it but depend on a "
        "migration of the other stage that has not run yet. Nothing was changed."
    ]
    for migration, blocker in stage_plan.blocked:
        blocker_key = (blocker.app_label, blocker.name)
        source = stages[blocker_key].source
        lines.append(
            f"  - {migration.app_label}.{migration.name} depends on "
            f"{blocker.app_label}.{blocker.name} ({stages[blocker_key].stage.label}, "
            f"{source})."
        )
    lines.append(
        "Either deploy these in two releases (run this release up to the "
        "post-deploy stage of the migration it depends on, then the rest), "
        "or, if the dependency is not real, regenerate the later migration with "
        "green_makemigrations' makemigrations, which places pre-deploy changes "
        "beside pending post-deploy ones. If a migration's stage is wrong, write "
        "`stage = Stage.PRE_DEPLOY` in it or set GREEN_MAKEMIGRATIONS['STAGES']."
    )
    return "\n".join(lines)


def tableless_models(state: ProjectState, app_label: str) -> set[str]:
    """Return the app's models that have no table of their own (proxy, unmanaged)."""
    return {
        model_name
        for (label, model_name), model_state in state.models.items()
        if label == app_label
        and (model_state.options.get("proxy") or not model_state.options.get("managed", True))
    }


def data_drops(
    migration: Migration, state_before: Callable[[MigrationKey], ProjectState] | None = None
) -> list[Operation]:
    """Return the operations of migration that destroy data.

    With state_before (the project state before a migration), what drops
    nothing in the database is not counted: deleting a proxy or unmanaged
    model (or changing one), removing a many-to-many field whose table
    belongs to its ``through`` model.
    """
    drops = rules.drops_data(migration.operations)
    if state_before is not None and drops:
        state = state_before((migration.app_label, migration.name))
        app_models = [s for (label, _), s in state.models.items() if label == migration.app_label]
        drops = rules.drops_data(
            migration.operations,
            tableless_models(state, migration.app_label),
            rules.columnless_fields(app_models),
        )
    return drops


@dataclass(frozen=True)
class RuleMessage:
    """What a stage rule says about a migration: an error refuses it, a warning informs.

    ``id`` is the system check's (``E004``, ``W001``, ``W002``); ``msg`` says
    which migration, which operation and why; ``hint`` what to do.
    """

    id: str
    migration: Migration
    operations: tuple[Operation, ...]
    msg: str
    hint: str

    @property
    def is_error(self) -> bool:
        """Return whether the rule refuses the migration."""
        return self.id.startswith("E")

    def __str__(self) -> str:
        return f"{self.msg} {self.hint}"


def _label(migration: Migration) -> str:
    return f"{migration.app_label}.{migration.name}"


def _describe(operation: Operation, migration: Migration) -> str:
    """Describe operation, saying where it sits when a SeparateDatabaseAndState holds it."""
    description = operation.describe()
    if not any(outer is operation for outer in migration.operations):
        description += " (in a SeparateDatabaseAndState's database_operations)"
    return description


def rule_messages(
    migration: Migration,
    info: StageInfo,
    state_before: Callable[[MigrationKey], ProjectState] | None = None,
) -> list[RuleMessage]:
    """Return what the stage rules say about migration, of stage info.

    - ``E004``: a pre-deploy migration drops data (see rules.is_drop): the
      previous release, still running, uses it. Both stages refuse it.
    - ``W001``: a pre-deploy migration's RunSQL drops or renames (see
      rules.destructive_sql); it may be safe, so it is only a warning.
    - ``W002``: a migration renames a table or column by hand (see
      rules.database_renames): whichever stage runs it, the release that does
      not know the new name fails its queries until the other is gone. No
      stage is right for it, so it is a warning that says how to avoid it.
      Only with state_before (the project state before a migration).
    """
    messages: list[RuleMessage] = []
    label = _label(migration)
    pre_deploy = info.stage is Stage.PRE_DEPLOY
    if state_before is not None:
        state_before = functools.cache(state_before)  # both rules may ask
    if pre_deploy:
        drops = data_drops(migration, state_before)
        if drops:
            described = "; ".join(_describe(op, migration) for op in drops)
            messages.append(
                RuleMessage(
                    "E004",
                    migration,
                    tuple(drops),
                    f"Migration {label} is pre-deploy ({info.source}) but drops data: {described}.",
                    "The previous release still uses it while the pre-deploy stage runs. "
                    "Mark the migration `stage = Stage.POST_DEPLOY`, or move the drop to a "
                    "post-deploy migration.",
                )
            )
        for position, operation in enumerate(migration.operations, 1):
            findings = rules.destructive_sql(operation)
            if not findings:
                continue
            statements = "; ".join(
                f"{finding.action} in `{_shorten(finding.statement)}`" for finding in findings
            )
            messages.append(
                RuleMessage(
                    "W001",
                    migration,
                    (operation,),
                    f"Migration {label} is pre-deploy ({info.source}) and its RunSQL "
                    f"(operation {position}) may drop or "
                    f"rename what the previous release still uses: {statements}.",
                    "If it does, mark the migration `stage = Stage.POST_DEPLOY` or move the "
                    "statement to a post-deploy migration; if it is safe (say, a table only "
                    "the new release uses), ignore this warning.",
                )
            )
    if state_before is not None and _may_rename(migration.operations):
        state = state_before((migration.app_label, migration.name))
        try:
            renames = rules.database_renames(migration.operations, migration.app_label, state)
        except (LookupError, ValueError, FieldDoesNotExist):
            # A history the state cannot follow: applying it fails and says why.
            renames = []
        if renames:
            described = "; ".join(
                f"{rename.describe()} ({_describe(rename.operation, migration)})"
                for rename in renames
            )
            if pre_deploy:
                why = (
                    "The previous release, still running during the pre-deploy stage, uses "
                    "the old name: its queries fail until it is gone."
                )
            else:
                why = (
                    "The new release uses the new name: its queries fail from its rollout "
                    "until the post-deploy stage runs."
                )
            messages.append(
                RuleMessage(
                    "W002",
                    migration,
                    tuple(rename.operation for rename in renames),
                    f"Migration {label} ({info.stage.label}, {info.source}) renames in the "
                    f"database: {described}. {why}",
                    "Keep the database name (db_column, db_table) to rename without "
                    "touching the database, or let green_makemigrations' makemigrations "
                    "write the rename: it phases it (a new column kept in sync, a view "
                    "under the old table name).",
                )
            )
    return messages


def _may_rename(migration_operations: Sequence[Operation]) -> bool:
    """Return whether operations may rename, before computing a state (costly) to tell.

    An AlterField counts only when it sets a ``db_column`` or ``db_table``:
    histories hold many AlterFields, and a state for each would be slow.
    """
    for operation in migration_operations:
        for inner in rules.database_operations(operation):
            if isinstance(inner, operations.AlterField):
                if inner.field.db_column or getattr(inner.field, "db_table", None):
                    return True
            elif isinstance(
                inner, (operations.RenameField, operations.RenameModel, operations.AlterModelTable)
            ):
                return True
    return False


def _shorten(statement: str, limit: int = 80) -> str:
    return statement if len(statement) <= limit else statement[: limit - 3] + "..."


def refusals(stage_plan: StagePlan, messages: Sequence[RuleMessage]) -> str:
    """Return the error message of a stage refused for migrations that break a stage rule."""
    names = list(dict.fromkeys(_label(message.migration) for message in messages))
    verb = "breaks" if len(names) == 1 else "break"
    lines = [
        f"The {stage_plan.stage.label} stage cannot run: {', '.join(names)} {verb} a stage "
        "rule, and neither stage applies a migration that does. Nothing was changed."
    ]
    lines += [f"  - {message.msg}\n    {message.hint}" for message in messages]
    return "\n".join(lines)


def checked_split(
    plan: Plan,
    stage: Stage,
    stages: Mapping[MigrationKey, StageInfo],
    graph: MigrationGraph,
    state_before: Callable[[MigrationKey], ProjectState] | None = None,
    applied_apps: Collection[str] | None = None,
) -> StagePlan:
    """Return split_plan(), raising StagePlanError if the stage cannot run safely.

    It cannot when a migration is blocked, or when it would apply a
    migration that breaks a stage rule (a pre-deploy migration that drops
    data: the pre-deploy stage would drop what the previous release uses,
    and the post-deploy stage would run what the pre-deploy stage refused,
    so both refuse it). The warnings of the migrations the stage runs are in
    the result's ``warnings`` (see rule_messages()).
    """
    stage_plan = split_plan(plan, stage, stages, graph, applied_apps)
    if stage_plan.blocked:
        raise StagePlanError(explain_blocked(stage_plan, stages))
    errors: list[RuleMessage] = []
    for migration, backwards in stage_plan.run:
        if backwards:
            continue  # un-applying drops nothing the previous release uses
        key = (migration.app_label, migration.name)
        for message in rule_messages(migration, stages[key], state_before):
            (errors if message.is_error else stage_plan.warnings).append(message)
    if errors:
        raise StagePlanError(refusals(stage_plan, errors))
    return stage_plan


def warnings(stage_plan: StagePlan | None) -> list[str]:
    """Return the lines a stage run prints for its plan's warnings (none without a plan)."""
    if stage_plan is None:
        return []
    return [
        f"Warning (green_makemigrations.{message.id}): {message.msg} {message.hint}"
        for message in stage_plan.warnings
    ]
