"""The pre-deploy stage of apps with no migration applied, and of a first deploy (split_plan)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.graph import MigrationGraph
from hypothesis import given, settings
from hypothesis import strategies as st

from green_makemigrations.constants import Stage
from green_makemigrations.plan import (
    StagePlan,
    adopted_apps,
    adopted_notes,
    created_tables,
    fresh_notes,
    graph_stages,
    split_plan,
)

from .helpers import MigrationKey, make_graph, make_migration

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY
ADD = operations.AddField("book", "new", models.IntegerField(null=True))
REMOVE = operations.RemoveField("book", "old")
OPERATIONS = {PRE: [ADD], POST: [REMOVE]}


def graph_of(*specs: tuple[str, str, Stage | None, list[MigrationKey]]) -> MigrationGraph:
    """Return a graph of (app_label, name, stage, dependencies); no stage means inferred."""
    return make_graph(
        make_migration(app_label, name, OPERATIONS[stage or PRE], dependencies, stage=stage)
        for app_label, name, stage, dependencies in specs
    )


def contrib_graph() -> MigrationGraph:
    """contenttypes and auth as Django ships them, in short: 0002 removes a field, unstaged."""
    return make_graph(
        [
            make_migration("contenttypes", "0001_initial", [ADD]),
            make_migration(
                "contenttypes", "0002_remove_name", [REMOVE], [("contenttypes", "0001_initial")]
            ),
            make_migration("auth", "0001_initial", [ADD], [("contenttypes", "0001_initial")]),
            make_migration(
                "auth",
                "0006_require_contenttypes_0002",
                [],
                [("auth", "0001_initial"), ("contenttypes", "0002_remove_name")],
            ),
            make_migration(
                "auth", "0007_alter", [ADD], [("auth", "0006_require_contenttypes_0002")]
            ),
        ]
    )


def forwards_plan(
    graph: MigrationGraph, applied: Collection[MigrationKey] = ()
) -> list[tuple[Migration, bool]]:
    """Return the plan to every leaf, as MigrationExecutor.migration_plan() would."""
    plan: list[tuple[Migration, bool]] = []
    seen = set(applied)
    for leaf in graph.leaf_nodes():
        for key in graph.forwards_plan(leaf):
            if key not in seen:
                seen.add(key)
                plan.append((graph.nodes[key], False))
    return plan


def split(
    graph: MigrationGraph,
    applied: Collection[MigrationKey] = (),
    applied_apps: Collection[str] | None = None,
    plan: list[tuple[Migration, bool]] | None = None,
) -> StagePlan:
    if applied_apps is None:
        applied_apps = {app_label for app_label, _ in applied}
    if plan is None:
        plan = forwards_plan(graph, applied)
    return split_plan(plan, PRE, graph_stages(graph), graph, applied_apps)


def parents(graph: MigrationGraph, key: MigrationKey) -> set[MigrationKey]:
    return {parent.key for parent in graph.node_map[key].parents}


def labels(migrations: Any) -> list[str]:
    return [
        f"{m[0].app_label}.{m[0].name}" if isinstance(m, tuple) else f"{m.app_label}.{m.name}"
        for m in migrations
    ]


def test_first_deploy_runs_everything() -> None:
    graph = contrib_graph()
    # Without applied_apps (as before), the contrib apps' own history blocks the stage.
    stages = graph_stages(graph)
    assert split_plan(forwards_plan(graph), PRE, stages, graph).blocked
    stage_plan = split(graph, applied_apps=set())
    assert stage_plan.first_deploy is True
    assert labels(stage_plan.run) == labels(forwards_plan(graph))
    assert (stage_plan.deferred, stage_plan.blocked) == ([], [])
    assert labels(stage_plan.early) == [
        "contenttypes.0002_remove_name",
        "auth.0006_require_contenttypes_0002",  # a merge after a drop: post-deploy, inferred
    ]
    assert stage_plan.fresh_apps == ["contenttypes", "auth"]
    assert fresh_notes(stage_plan) == [
        "First deploy: no migration is applied, so every migration runs in the pre-deploy "
        "stage (no release runs on this database yet)."
    ]


def test_new_app_in_a_deployed_project_runs_whole() -> None:
    graph = graph_of(
        ("library", "0001_initial", PRE, []),
        ("library", "0002_remove_old", POST, [("library", "0001_initial")]),
        ("shop", "0001_initial", PRE, [("library", "0001_initial")]),
        ("shop", "0002_remove_old", POST, [("shop", "0001_initial")]),
        ("shop", "0003_add_new", PRE, [("shop", "0002_remove_old")]),
    )
    stage_plan = split(graph, applied={("library", "0001_initial")})
    assert stage_plan.first_deploy is False
    assert labels(stage_plan.run) == [
        "shop.0001_initial",
        "shop.0002_remove_old",
        "shop.0003_add_new",
    ]
    assert labels(stage_plan.early) == ["shop.0002_remove_old"]
    assert labels(stage_plan.deferred) == ["library.0002_remove_old"]
    assert stage_plan.fresh_apps == ["shop"]
    assert fresh_notes(stage_plan) == [
        "App 'shop' has no migration applied: its migrations all run in the pre-deploy "
        "stage (no release uses its tables yet)."
    ]


def test_fresh_app_waits_for_a_pending_post_deploy_migration_of_a_deployed_app() -> None:
    graph = graph_of(
        ("library", "0001_initial", PRE, []),
        ("library", "0002_remove_old", POST, [("library", "0001_initial")]),
        ("shop", "0001_initial", PRE, []),
        ("shop", "0002_remove_old", POST, [("shop", "0001_initial")]),
        ("shop", "0003_link", POST, [("shop", "0002_remove_old"), ("library", "0002_remove_old")]),
        ("shop", "0004_add_new", PRE, [("shop", "0003_link")]),
    )
    applied = {("library", "0001_initial")}
    stage_plan = split(graph, applied)
    assert labels(stage_plan.run) == ["shop.0001_initial", "shop.0002_remove_old"]
    # Its post-deploy migration waits for the post-deploy stage ...
    assert labels(stage_plan.deferred) == ["library.0002_remove_old", "shop.0003_link"]
    # ... and a pre-deploy one after it blocks the stage, as in any app.
    assert [(m.name, b.name) for m, b in stage_plan.blocked] == [("0004_add_new", "0003_link")]
    assert fresh_notes(stage_plan) == [
        "App 'shop' has no migration applied: its migrations run in the pre-deploy stage "
        "(no release uses its tables yet), but for those that wait for a post-deploy "
        "migration of a deployed app."
    ]
    # Without the blocked migration, the stage runs and leaves the rest.
    plan = [(m, b) for m, b in forwards_plan(graph, applied) if m.name != "0004_add_new"]
    stage_plan = split(graph, applied, plan=plan)
    assert stage_plan.blocked == []
    assert labels(stage_plan.deferred) == ["library.0002_remove_old", "shop.0003_link"]


def test_deployed_app_may_follow_an_early_migration_of_a_fresh_app() -> None:
    graph = graph_of(
        ("library", "0001_initial", PRE, []),
        ("shop", "0001_initial", PRE, []),
        ("shop", "0002_remove_old", POST, [("shop", "0001_initial")]),
        (
            "library",
            "0002_add_new",
            PRE,
            [("library", "0001_initial"), ("shop", "0002_remove_old")],
        ),
    )
    stage_plan = split(graph, {("library", "0001_initial")})
    assert labels(stage_plan.run) == [
        "shop.0001_initial",
        "shop.0002_remove_old",
        "library.0002_add_new",
    ]


def test_backwards_keeps_the_rules() -> None:
    graph = graph_of(
        ("shop", "0001_initial", PRE, []),
        ("shop", "0002_remove_old", POST, [("shop", "0001_initial")]),
        ("shop", "0003_add_new", PRE, [("shop", "0002_remove_old")]),
    )
    plan = [(graph.nodes["shop", name], True) for name in ("0003_add_new", "0002_remove_old")]
    stages = graph_stages(graph)
    for applied_apps in (None, set(), {"other"}, {"shop"}):
        stage_plan = split_plan(plan, PRE, stages, graph, applied_apps)
        assert (stage_plan.first_deploy, stage_plan.fresh_apps, stage_plan.early) == (
            False,
            [],
            [],
        )
        assert labels(stage_plan.deferred) == ["shop.0003_add_new"]
        assert [(m.name, b.name) for m, b in stage_plan.blocked] == [
            ("0002_remove_old", "0003_add_new")
        ]


def test_post_deploy_stage_runs_everything_left() -> None:
    graph = contrib_graph()
    plan = forwards_plan(graph)
    stage_plan = split_plan(plan, POST, graph_stages(graph), graph, set())
    assert labels(stage_plan.run) == labels(plan)
    assert (stage_plan.first_deploy, stage_plan.early) == (False, [])


# -- apps with tables but no migration applied ----------------------------------


def test_created_tables() -> None:
    fields = [("id", models.AutoField(primary_key=True))]
    migration = make_migration(
        "shop",
        "0001_initial",
        [
            operations.CreateModel("Order", fields),
            operations.CreateModel("Legacy", fields, options={"db_table": "old_orders"}),
            operations.CreateModel("View", fields, options={"managed": False}),
            operations.CreateModel("Proxy", [], options={"proxy": True}, bases=("shop.order",)),
            operations.SeparateDatabaseAndState(
                database_operations=[operations.CreateModel("Inner", fields)]
            ),
            ADD,
        ],
    )
    assert created_tables(migration, None) == {"shop_order", "old_orders", "shop_inner"}
    # Truncated as Django truncates them for the backend's identifier limit.
    assert created_tables(migration, 8) == {"shop4086", "old_orders", "shop30f8"}


def test_adopted_apps() -> None:
    fields = [("id", models.AutoField(primary_key=True))]
    graph = make_graph(
        [
            make_migration("library", "0001_initial", [operations.CreateModel("Book", fields)]),
            make_migration("shop", "0001_initial", [operations.CreateModel("Order", fields)]),
            make_migration("shop", "0002_remove", [REMOVE], [("shop", "0001_initial")]),
            make_migration("new", "0001_initial", [operations.CreateModel("Item", fields)]),
        ]
    )
    plan = forwards_plan(graph)
    # Table names as the database reports them, in any case.
    existing = ["SHOP_ORDER", "library_book", "django_migrations"]
    assert adopted_apps(plan, {"library"}, existing, None) == ["shop"]
    assert adopted_apps(plan, set(), [], None) == []
    backwards = [(migration, True) for migration, _ in reversed(plan)]
    assert adopted_apps(backwards, set(), existing, None) == []
    assert adopted_notes(["shop"]) == [
        "App 'shop' has no migration applied but its tables exist: a running release may "
        "use them, so its migrations keep their stages."
    ]


# -- generated graphs ---------------------------------------------------------

APPS = ("alpha", "beta", "gamma")


@st.composite
def deployments(draw: Any) -> tuple[MigrationGraph, set[MigrationKey]]:
    """Draw a graph of three apps (cross-app dependencies, random stages) and what is applied.

    Migrations are made in one global order and depend only on earlier
    ones, so the graph has no cycle; what is applied is closed under
    dependencies, as in a real database.
    """
    count = draw(st.integers(1, 9))
    made: list[tuple[str, str, Stage | None, list[MigrationKey]]] = []
    last: dict[str, MigrationKey] = {}
    for number in range(count):
        app_label = draw(st.sampled_from(APPS))
        dependencies = [last[app_label]] if app_label in last else []
        others = [(a, n) for a, n, _, _ in made if a != app_label]
        if others:
            dependencies += draw(st.lists(st.sampled_from(others), max_size=2, unique=True))
        stage = draw(st.sampled_from([PRE, POST, None]))
        key = (app_label, f"{number:04d}_m")
        made.append((*key, stage, dependencies))
        last[app_label] = key
    graph = graph_of(*made)
    applied: set[MigrationKey] = set()
    for app_label, name, _, dependencies in made:
        if draw(st.booleans()) and all(parent in applied for parent in dependencies):
            applied.add((app_label, name))
    return graph, applied


@settings(max_examples=300, deadline=None)
@given(deployments())
def test_generated_pre_deploy_plans(deployment: tuple[MigrationGraph, set[MigrationKey]]) -> None:
    graph, applied = deployment
    plan = forwards_plan(graph, applied)
    stages = graph_stages(graph)
    applied_apps = {app_label for app_label, _ in applied}
    stage_plan = split_plan(plan, PRE, stages, graph, applied_apps)

    # What the stage runs: a migration of its stage or of an app with
    # nothing applied, whose parents are applied or run before it.
    expected: list[str] = []
    ran = set(applied)
    for migration, _ in plan:
        key = (migration.app_label, migration.name)
        eligible = stages[key].stage is PRE or migration.app_label not in applied_apps
        if eligible and all(parent in ran for parent in parents(graph, key)):
            ran.add(key)
            expected.append(f"{migration.app_label}.{migration.name}")
    assert labels(stage_plan.run) == expected
    # Everything else is left for the post-deploy stage, or blocks the stage.
    left = [m for m, _ in plan if f"{m.app_label}.{m.name}" not in expected]
    assert sorted(labels(stage_plan.deferred) + labels([m for m, _ in stage_plan.blocked])) == (
        sorted(labels(left))
    )
    for migration in stage_plan.deferred:
        assert stages[migration.app_label, migration.name].stage is POST
    for migration, blocker in stage_plan.blocked:
        assert stages[migration.app_label, migration.name].stage is PRE
        assert (blocker.app_label, blocker.name) in parents(
            graph, (migration.app_label, migration.name)
        )
    # A migration runs early only for an app with nothing applied.
    for migration in stage_plan.early:
        assert migration.app_label not in applied_apps
        assert stages[migration.app_label, migration.name].stage is POST
    assert stage_plan.first_deploy is (bool(plan) and not applied)
    if not applied:
        assert labels(stage_plan.run) == labels(plan)
    # Apps that are all deployed split as before.
    if applied_apps >= {m.app_label for m, _ in plan}:
        before = split_plan(plan, PRE, stages, graph)
        assert labels(stage_plan.run) == labels(before.run)
        assert labels(stage_plan.deferred) == labels(before.deferred)
        assert stage_plan.blocked == before.blocked
