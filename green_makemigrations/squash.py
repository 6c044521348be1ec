"""Squashing with stages: one squashed migration per deploy stage, or a refusal.

Django uses a squashed migration only when all or none of the migrations it
replaces are applied, and runs it whole. A squash that mixed stages would
either drop in the pre-deploy stage what the running release uses, or hold
back in the post-deploy stage what the new release needs. So the
migrations of a range are squashed by stage: the pre-deploy ones into one
migration, the post-deploy ones into another, the first of the two running
whole before the second. On a database deployed half-way (pre-deploy done,
post-deploy not yet) the first is fully applied and the second not at all:
Django uses both. That is only possible when no migration of the first
depends on one of the second; otherwise the range is refused, and the
message says which shorter ranges can be squashed.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.migrations import Migration
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import SwappableTuple
from django.db.migrations.operations.base import Operation
from django.db.migrations.optimizer import MigrationOptimizer

from .constants import Stage
from .exceptions import GreenMigrationsError
from .operations import runs_outside_transaction
from .plan import MigrationKey, StageInfo, mark_stage


class SquashRefused(GreenMigrationsError):
    """A range of migrations cannot be squashed without mixing or reordering stages."""


def key_of(migration: Migration) -> MigrationKey:
    """Return the graph key of migration."""
    return (migration.app_label, migration.name)


@dataclass(frozen=True)
class Squash:
    """The migrations that one squashed migration replaces, in the order it runs them.

    ``atomic`` is False when one of them is: its operations (a concurrent
    index build) cannot run in a transaction.
    """

    stage: Stage
    migrations: tuple[Migration, ...]

    @property
    def atomic(self) -> bool:
        """Return whether the squashed migration may run in one transaction."""
        return all(migration.atomic for migration in self.migrations)

    @property
    def keys(self) -> list[MigrationKey]:
        """Return the keys of the replaced migrations."""
        return [key_of(migration) for migration in self.migrations]

    def describe(self) -> str:
        """Return "pre-deploy: 0002_a, 0003_b"."""
        return f"{self.stage.label}: {', '.join(m.name for m in self.migrations)}"


def squash_range(
    graph: MigrationGraph, end: Migration, start: Migration | None = None
) -> list[Migration] | None:
    """Return the migrations Django's squashmigrations squashes, or None where it refuses.

    Those are the migrations of end's app that end needs, in the order they
    apply, from start on (see Django's squashmigrations.Command.handle()).
    None when start does not come before end: Django's command says so.
    """
    plan = [
        migration
        for key in graph.forwards_plan(key_of(end))
        if key[0] == end.app_label and (migration := graph.nodes[key]) is not None
    ]
    if start is None:
        return plan
    keys = [key_of(migration) for migration in plan]
    if key_of(start) not in keys:
        return None
    return plan[keys.index(key_of(start)) :]


def ancestors_within(
    graph: MigrationGraph, migrations: Sequence[Migration]
) -> dict[MigrationKey, set[MigrationKey]]:
    """Return, for each of migrations, the others it needs applied first (through any app)."""
    keys = {key_of(migration) for migration in migrations}
    return {
        key_of(m): (set(graph.forwards_plan(key_of(m))) & keys) - {key_of(m)} for m in migrations
    }


def split_by_stage(
    migrations: Sequence[Migration],
    stages: Mapping[MigrationKey, StageInfo],
    needs: Mapping[MigrationKey, set[MigrationKey]],
) -> list[Squash] | None:
    """Return the squashes of migrations, one per stage, in the order they run.

    One squash when they are all of one stage. Two when the migrations of
    one stage need none of the other's (needs: ancestors_within()): those
    run first, pre-deploy first when either order would do. None when each
    stage needs a migration of the other: no two squashes can run them.
    """
    by_stage: dict[Stage, list[Migration]] = {}
    for migration in migrations:
        by_stage.setdefault(stages[key_of(migration)].stage, []).append(migration)
    if len(by_stage) == 1:
        [(stage, members)] = by_stage.items()
        return [Squash(stage, tuple(members))]
    for first in (Stage.PRE_DEPLOY, Stage.POST_DEPLOY):
        second = first.opposite
        later = {key_of(migration) for migration in by_stage[second]}
        if not any(needs[key_of(migration)] & later for migration in by_stage[first]):
            return [Squash(first, tuple(by_stage[first])), Squash(second, tuple(by_stage[second]))]
    return None


def refusal(
    graph: MigrationGraph,
    migrations: Sequence[Migration],
    stages: Mapping[MigrationKey, StageInfo],
    needs: Mapping[MigrationKey, set[MigrationKey]],
    disk_names: Collection[str] = (),
) -> str:
    """Return the message of a range split_by_stage() refuses: which migrations, why, what to do.

    disk_names are the app's migrations on disk: a suggested command names a
    migration by its number where no other starts with it.
    """
    app_label = migrations[0].app_label
    stage_of = {key_of(m): stages[key_of(m)].stage for m in migrations}
    lines = [
        f"Cannot squash {app_label} {migrations[0].name} to {migrations[-1].name}: the range "
        "mixes deploy stages, and its pre-deploy and post-deploy migrations each need one of "
        "the other's first. Nothing was written.",
        "The migrations, in the order they apply:",
    ]
    for migration in migrations:
        key = key_of(migration)
        info = stages[key]
        waits = sorted(name for app, name in needs[key] if stage_of[(app, name)] is not info.stage)
        shown = ", ".join(waits[-3:]) + (f" and {len(waits) - 3} more" if len(waits) > 3 else "")
        after = f"; needs {info.stage.opposite.label} {shown} first" if waits else ""
        lines.append(f"  - {migration.name} ({info.stage.label}, {info.source}{after})")
    lines.append(
        "A squashed migration never mixes stages (neither stage could run it whole), and "
        "Django uses it only when all or none of the migrations it replaces are applied: "
        "the range becomes one squashed migration per stage, and one of them must run "
        "whole before the other. Here either order would run a migration before one it "
        "needs."
    )
    ranges = squashable_ranges(graph, migrations, stages, needs)
    if ranges:

        def short(migration: Migration) -> str:
            prefix = number(migration)
            clashes = [name for name in disk_names if name.startswith(prefix)]
            return prefix if len(clashes) <= 1 else migration.name

        commands = ", ".join(
            f"`squashmigrations {app_label} {short(first)} {short(last)}`" for first, last in ranges
        )
        lines.append(
            "Squash shorter ranges instead, each of one stage or of one release's pre-deploy "
            f"migrations and then its post-deploy ones: {commands}."
        )
    else:
        lines.append(
            "Squash shorter ranges instead, each of one stage or of one release's pre-deploy "
            "migrations and then its post-deploy ones."
        )
    return "\n".join(lines)


def squashable_ranges(
    graph: MigrationGraph,
    migrations: Sequence[Migration],
    stages: Mapping[MigrationKey, StageInfo],
    needs: Mapping[MigrationKey, set[MigrationKey]],
) -> list[tuple[Migration, Migration]]:
    """Return the longest ranges of migrations, from the first on, that can be squashed.

    Each is (first, last) of at least two migrations, taken greedily in plan
    order, such that Django's squashmigrations selects exactly them and
    split_by_stage() accepts them.
    """
    ranges: list[tuple[Migration, Migration]] = []
    position = 0
    while position < len(migrations):
        best = position
        for last in range(position + 1, len(migrations)):
            chosen = squash_range(graph, migrations[last], migrations[position])
            if chosen is None or [key_of(m) for m in chosen] != [
                key_of(m) for m in migrations[position : last + 1]
            ]:
                break
            # needs (ancestors_within() of migrations) holds those of chosen.
            if split_by_stage(chosen, stages, needs) is None:
                break
            best = last
        if best > position:
            ranges.append((migrations[position], migrations[best]))
        position = best + 1
    return ranges


def squashed_names(
    squashes: Sequence[Squash], squashed_name: str | None, initial: Migration | None
) -> list[tuple[str | None, str, str]]:
    """Return, per squash, Django's start_migration_name and squashed_name, and the name.

    Each squash is named after the first and last migrations it replaces,
    with its stage: ``0002_squashed_0005_pre_deploy``, or
    ``0002_<squashed_name>_pre_deploy``. initial: the app's first migration
    when the range starts there and no start was given; the squash holding
    it is initial and numbered 0001, as Django numbers it.
    """
    names: list[tuple[str | None, str, str]] = []
    for squash in squashes:
        first, last = squash.migrations[0], squash.migrations[-1]
        suffix = f"{squashed_name or 'squashed_' + number(last)}_{squash.stage.value}"
        if initial is not None and initial in squash.migrations:
            names.append((None, suffix, f"0001_{suffix}"))
        else:
            names.append((first.name, suffix, f"{number(first)}_{suffix}"))
    return names


def number(migration: Migration) -> str:
    """Return the number a migration's name starts with ("0002" of "0002_remove_x")."""
    return migration.name.split("_", 1)[0]


def squash_loader(loader: MigrationLoader, squash: Squash) -> MigrationLoader:
    """Return a copy of loader that knows only squash's migrations, chained in its order.

    Django's squashmigrations squashes the migrations the graph's plan to
    the last one lists (from the first one): here, exactly squash's.
    """
    restricted = copy.copy(loader)
    restricted.graph = graph = MigrationGraph()
    restricted.disk_migrations = {}
    previous: MigrationKey | None = None
    for migration in squash.migrations:
        key = key_of(migration)
        graph.add_node(key, migration)
        restricted.disk_migrations[key] = migration
        if previous is not None:
            graph.add_dependency(migration, key, previous)
        previous = key
    return restricted


def shape(
    migration: Migration,
    squash: Squash,
    earlier: Mapping[MigrationKey, MigrationKey] | None = None,
) -> None:
    """Give the migration Django's squashmigrations built its stage and atomicity.

    earlier, when the range is split, maps the migrations replaced by the
    squashes written before this one to those squashes: this one's
    dependencies in its own app become those of its migrations outside it,
    through the earlier squashes (Django takes the first migration's only,
    which chains a single squash but not the second of two).
    """
    mark_stage(migration, squash.stage)
    if not squash.atomic:
        migration.atomic = False  # type: ignore[misc]
    if earlier is None:
        return
    app_label = migration.app_label
    own = set(squash.keys)
    dependencies: list[Any] = [
        dependency for dependency in migration.dependencies if dependency[0] != app_label
    ]
    for replaced in squash.migrations:
        for dependency in replaced.dependencies:
            if isinstance(dependency, SwappableTuple) or dependency[0] != app_label:
                continue  # Django's squash has them already
            key = earlier.get(tuple(dependency), tuple(dependency))  # type: ignore[arg-type]
            if key not in own and key not in dependencies:
                dependencies.append(key)
    migration.dependencies = dependencies  # type: ignore[misc]


class StageOptimizer(MigrationOptimizer):
    """Django's optimizer that folds nothing into or out of an operation run outside a transaction.

    Django would fold, say, an AddField and a later AlterFieldIndexConcurrently
    of the same field into one AddField: the index would then be built
    under a lock that blocks writes. Each run of operations between two such
    operations is optimized on its own.
    """

    def optimize(self, operations: list[Operation], app_label: str | None) -> list[Operation]:
        """Return operations optimized, those run outside a transaction kept as they are."""
        result: list[Operation] = []
        run: list[Operation] = []
        for operation in operations:
            if runs_outside_transaction(operation):
                result += super().optimize(run, app_label)
                result.append(operation)
                run = []
            else:
                run.append(operation)
        return result + super().optimize(run, app_label)
