"""Squash planning without a database: the optimizer's barrier, the split by stage, the names.

tests/commands/test_squash.py squashes generated histories and deploys
them; here are the decisions on their own, on hand-built graphs.
"""

from __future__ import annotations

from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.optimizer import MigrationOptimizer

from green_makemigrations.constants import Stage
from green_makemigrations.operations import AddIndexConcurrently, AlterFieldIndexConcurrently
from green_makemigrations.plan import StageInfo
from green_makemigrations.squash import (
    Squash,
    StageOptimizer,
    ancestors_within,
    refusal,
    split_by_stage,
    squash_range,
    squashed_names,
)

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY


def test_optimizer_never_folds_an_operation_run_outside_a_transaction() -> None:
    """An AddField and a later concurrent index on it stay two: one would lock writes."""
    added = operations.AddField("book", "isbn", models.IntegerField(null=True))
    indexed = AlterFieldIndexConcurrently(
        "book", "isbn", models.IntegerField(null=True, db_index=True)
    )
    # Django folds them: the index would be built by the AddField, under a lock.
    [folded] = MigrationOptimizer().optimize([added, indexed], "shop")
    assert type(folded) is operations.AddField and folded.field.db_index
    assert StageOptimizer().optimize([added, indexed], "shop") == [added, indexed]
    # The runs around it are optimized as Django does.
    other = operations.AddField("book", "note", models.IntegerField(null=True))
    renamed = operations.AlterField("book", "note", models.IntegerField(null=True, default=1))
    index = AddIndexConcurrently("book", models.Index(fields=["note"], name="book_note_idx"))
    optimized = StageOptimizer().optimize([other, renamed, index, added, indexed], "shop")
    assert [type(op) for op in optimized] == [
        operations.AddField,
        AddIndexConcurrently,
        operations.AddField,
        AlterFieldIndexConcurrently,
    ]
    assert optimized[0].field.default == 1


def history(*specs: tuple[str, Stage, tuple[str, ...]]) -> tuple[MigrationGraph, list[Migration]]:
    """Return a graph of app "shop" from (name, stage, parents) and its migrations."""
    graph = MigrationGraph()
    migrations = []
    for name, stage, parents in specs:
        migration = Migration(name, "shop")
        migration.stage = stage  # type: ignore[attr-defined]
        migration.dependencies = [("shop", parent) for parent in parents]  # type: ignore[misc]
        graph.add_node(("shop", name), migration)
        migrations.append(migration)
    for migration in migrations:
        for parent in migration.dependencies:
            graph.add_dependency(migration, ("shop", migration.name), parent)
    return graph, migrations


def stages_of(migrations: list[Migration]) -> dict[tuple[str, str], StageInfo]:
    """Return the written stage of each migration."""
    return {(m.app_label, m.name): StageInfo(m.stage, "written") for m in migrations}  # type: ignore[attr-defined]


def names(squashes: list[Squash] | None) -> list[tuple[Stage, list[str]]] | None:
    """Return (stage, replaced names) per squash."""
    if squashes is None:
        return None
    return [(s.stage, [m.name for m in s.migrations]) for s in squashes]


def test_a_pre_deploy_migration_placed_beside_a_pending_drop_joins_the_pre_deploy_squash() -> None:
    """The package's beside-pending graph: reordered by stage, nothing depends on what follows."""
    graph, migrations = history(
        ("0001_initial", PRE, ()),
        ("0002_prepare", PRE, ("0001_initial",)),
        ("0003_drop", POST, ("0002_prepare",)),
        ("0004_index", PRE, ("0002_prepare",)),
        ("0005_merge", POST, ("0003_drop", "0004_index")),
    )
    chosen = squash_range(graph, migrations[-1], migrations[1])
    assert chosen is not None
    squashes = split_by_stage(chosen, stages_of(migrations), ancestors_within(graph, chosen))
    assert names(squashes) == [
        (PRE, ["0002_prepare", "0004_index"]),
        (POST, ["0003_drop", "0005_merge"]),
    ]
    assert squashes is not None
    assert [name for *_, name in squashed_names(squashes, None, None)] == [
        "0002_squashed_0004_pre_deploy",
        "0003_squashed_0005_post_deploy",
    ]
    assert [name for *_, name in squashed_names(squashes, "r2", None)] == [
        "0002_r2_pre_deploy",
        "0003_r2_post_deploy",
    ]


def test_a_chain_that_goes_back_to_pre_deploy_is_refused_with_the_ranges_that_can_be() -> None:
    graph, migrations = history(
        ("0001_initial", PRE, ()),
        ("0002_prepare", PRE, ("0001_initial",)),
        ("0003_drop", POST, ("0002_prepare",)),
        ("0004_add", PRE, ("0003_drop",)),
        ("0005_index", PRE, ("0004_add",)),
        ("0006_drop", POST, ("0005_index",)),
    )
    chosen = squash_range(graph, migrations[-1], migrations[1])
    assert chosen is not None
    needs = ancestors_within(graph, chosen)
    stages = stages_of(migrations)
    assert split_by_stage(chosen, stages, needs) is None
    message = refusal(graph, chosen, stages, needs, [m.name for m in migrations])
    assert "  - 0004_add (pre-deploy, written; needs post-deploy 0003_drop first)" in message
    assert "`squashmigrations shop 0002 0003`, `squashmigrations shop 0004 0006`" in message
    # A post-deploy migration first, then pre-deploy ones that need it: in that order.
    chosen = squash_range(graph, migrations[4], migrations[2])
    assert chosen is not None
    squashes = split_by_stage(chosen, stages, ancestors_within(graph, chosen))
    assert names(squashes) == [(POST, ["0003_drop"]), (PRE, ["0004_add", "0005_index"])]


def test_squash_atomic_when_every_replaced_migration_is() -> None:
    atomic, outside = Migration("0002_a", "shop"), Migration("0003_b", "shop")
    outside.atomic = False  # type: ignore[misc]
    assert Squash(PRE, (atomic,)).atomic
    assert not Squash(PRE, (atomic, outside)).atomic
