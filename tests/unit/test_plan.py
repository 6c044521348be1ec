"""Stages of migrations and plans split by stage, on small graphs of Migration objects."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest
from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.state import ProjectState

from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import StageConfigurationError, StagePlanError
from green_makemigrations.plan import (
    StageInfo,
    StagePlan,
    checked_split,
    data_drops,
    graph_stages,
    resolve_stage,
    rule_messages,
    split_plan,
    warnings,
)

from .helpers import MigrationKey, apply_operations, make_graph, make_migration

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY

CREATE = operations.CreateModel(
    "Book",
    [("id", models.AutoField(primary_key=True)), ("old", models.IntegerField(null=True))],
)
REMOVE = operations.RemoveField("book", "old")
ADD = operations.AddField("book", "new", models.IntegerField(null=True))


# -- resolve_stage ------------------------------------------------------------


def test_resolve_stage_written() -> None:
    migration = make_migration("testapp", "0002_x", [ADD], stage=POST)
    # What the file says wins over settings and inference.
    assert resolve_stage(migration, {"testapp": PRE, "testapp.0002_x": PRE}) == StageInfo(
        POST, "written"
    )


def test_resolve_stage_written_as_string() -> None:
    migration = make_migration("testapp", "0002_x", [REMOVE], stage="pre_deploy")
    info = resolve_stage(migration, {})
    assert info == StageInfo(PRE, "written")
    assert info.stage is PRE


def test_resolve_stage_invalid_written_stage() -> None:
    migration = make_migration("testapp", "0002_x", [ADD], stage="later")
    with pytest.raises(StageConfigurationError) as error:
        resolve_stage(migration, {})
    message = str(error.value)
    assert "testapp.0002_x" in message
    assert "'later'" in message
    assert "Stage.PRE_DEPLOY" in message and "Stage.POST_DEPLOY" in message


def test_resolve_stage_settings_by_app() -> None:
    migration = make_migration("testapp", "0002_x", [ADD])
    assert resolve_stage(migration, {"testapp": POST}) == StageInfo(POST, "settings")
    assert resolve_stage(migration, {"other": POST}) == StageInfo(PRE, "inferred")


def test_resolve_stage_settings_by_migration_wins_over_app() -> None:
    overrides = {"testapp": POST, "testapp.0002_x": PRE}
    named = make_migration("testapp", "0002_x", [REMOVE])
    other = make_migration("testapp", "0003_y", [ADD])
    assert resolve_stage(named, overrides) == StageInfo(PRE, "settings")
    assert resolve_stage(other, overrides) == StageInfo(POST, "settings")


def test_resolve_stage_reads_settings_when_no_overrides_given(settings: Any) -> None:
    settings.GREEN_MAKEMIGRATIONS = {"STAGES": {"testapp.0002_x": "post-deploy"}}
    migration = make_migration("testapp", "0002_x", [ADD])
    assert resolve_stage(migration) == StageInfo(POST, "settings")


@pytest.mark.parametrize(
    ("migration_operations", "stage"),
    [([ADD], PRE), ([ADD, REMOVE], POST), ([operations.DeleteModel("Book")], POST), ([], PRE)],
    ids=["add", "add-remove", "delete-model", "empty"],
)
def test_resolve_stage_inferred(migration_operations: list[Any], stage: Stage) -> None:
    migration = make_migration("testapp", "0002_x", migration_operations)
    assert resolve_stage(migration, {}) == StageInfo(stage, "inferred")


def test_resolve_stage_merge_inherits_post_deploy() -> None:
    merge = make_migration("testapp", "0004_merge", [])
    assert resolve_stage(merge, {}, [PRE, POST]) == StageInfo(POST, "inferred")
    assert resolve_stage(merge, {}, [PRE, PRE]) == StageInfo(PRE, "inferred")
    # Only a migration without operations inherits.
    with_operations = make_migration("testapp", "0004_add", [ADD])
    assert resolve_stage(with_operations, {}, [POST]) == StageInfo(PRE, "inferred")
    # Settings still win over inheritance.
    assert resolve_stage(merge, {"testapp": PRE}, [POST]) == StageInfo(PRE, "settings")


# -- graphs -------------------------------------------------------------------


def linear_graph() -> MigrationGraph:
    """testapp: 0001 (pre) <- 0002_remove_old (post) <- 0003_add_new (pre)."""
    return make_graph(
        [
            make_migration("testapp", "0001_initial", [CREATE], stage=PRE),
            make_migration(
                "testapp", "0002_remove_old", [REMOVE], [("testapp", "0001_initial")], stage=POST
            ),
            make_migration(
                "testapp", "0003_add_new", [ADD], [("testapp", "0002_remove_old")], stage=PRE
            ),
        ]
    )


def branched_graph() -> MigrationGraph:
    """testapp: 0001 (pre) <- 0002_remove_old (post) and 0003_add_new (pre) <- 0004_merge."""
    return make_graph(
        [
            make_migration("testapp", "0001_initial", [CREATE], stage=PRE),
            make_migration(
                "testapp", "0002_remove_old", [REMOVE], [("testapp", "0001_initial")], stage=POST
            ),
            make_migration(
                "testapp", "0003_add_new", [ADD], [("testapp", "0001_initial")], stage=PRE
            ),
            make_migration(
                "testapp",
                "0004_merge",
                [],
                [("testapp", "0002_remove_old"), ("testapp", "0003_add_new")],
            ),
        ]
    )


def forwards_plan(
    graph: MigrationGraph, applied: Collection[str] = ()
) -> list[tuple[Migration, bool]]:
    """Return the plan to the leaf, as MigrationExecutor.migration_plan() would."""
    (leaf,) = graph.leaf_nodes("testapp")
    return [(graph.nodes[key], False) for key in graph.forwards_plan(leaf) if key[1] not in applied]


def backwards_plan(graph: MigrationGraph, names: list[str]) -> list[tuple[Migration, bool]]:
    return [(graph.nodes["testapp", name], True) for name in names]


def names(stage_plan: StagePlan) -> dict[str, Any]:
    return {
        "run": [(m.name, backwards) for m, backwards in stage_plan.run],
        "deferred": [m.name for m in stage_plan.deferred],
        "blocked": [(m.name, blocker.name) for m, blocker in stage_plan.blocked],
    }


def test_graph_stages() -> None:
    stages = graph_stages(branched_graph())
    assert stages == {
        ("testapp", "0001_initial"): StageInfo(PRE, "written"),
        ("testapp", "0002_remove_old"): StageInfo(POST, "written"),
        ("testapp", "0003_add_new"): StageInfo(PRE, "written"),
        ("testapp", "0004_merge"): StageInfo(POST, "inferred"),
    }


def test_graph_stages_with_settings(settings: Any) -> None:
    settings.GREEN_MAKEMIGRATIONS = {"STAGES": {"testapp.0004_merge": "pre_deploy"}}
    stages = graph_stages(branched_graph())
    assert stages["testapp", "0004_merge"] == StageInfo(PRE, "settings")


def split(
    graph: MigrationGraph, plan: list[tuple[Migration, bool]], stage: Stage
) -> dict[str, Any]:
    return names(split_plan(plan, stage, graph_stages(graph), graph))


def test_split_forwards_pre_deploy_runs_pre_deploy_branch() -> None:
    graph = branched_graph()
    assert split(graph, forwards_plan(graph), PRE) == {
        "run": [("0001_initial", False), ("0003_add_new", False)],
        "deferred": ["0002_remove_old", "0004_merge"],
        "blocked": [],
    }


def test_split_forwards_post_deploy_runs_everything_left() -> None:
    graph = branched_graph()
    plan = forwards_plan(graph, applied={"0001_initial", "0003_add_new"})
    assert split(graph, plan, POST) == {
        "run": [("0002_remove_old", False), ("0004_merge", False)],
        "deferred": [],
        "blocked": [],
    }


def test_split_forwards_pre_deploy_blocked_by_pending_post_deploy() -> None:
    graph = linear_graph()
    assert split(graph, forwards_plan(graph), PRE) == {
        "run": [("0001_initial", False)],
        "deferred": ["0002_remove_old"],
        "blocked": [("0003_add_new", "0002_remove_old")],
    }


def test_split_forwards_pre_deploy_after_post_deploy_ran() -> None:
    graph = linear_graph()
    plan = forwards_plan(graph, applied={"0001_initial", "0002_remove_old"})
    assert split(graph, plan, PRE) == {
        "run": [("0003_add_new", False)],
        "deferred": [],
        "blocked": [],
    }


def test_split_forwards_blocked_chain_is_all_blocked() -> None:
    graph = make_graph(
        [
            make_migration("testapp", "0001_drop", [REMOVE], stage=POST),
            make_migration("testapp", "0002_add", [ADD], [("testapp", "0001_drop")], stage=PRE),
            make_migration("testapp", "0003_add", [ADD], [("testapp", "0002_add")], stage=PRE),
        ]
    )
    assert split(graph, forwards_plan(graph), PRE)["blocked"] == [
        ("0002_add", "0001_drop"),
        ("0003_add", "0002_add"),
    ]


def test_split_backwards_pre_deploy_unapplies_post_deploy() -> None:
    graph = branched_graph()
    plan = backwards_plan(graph, ["0004_merge", "0002_remove_old"])
    stage_plan = split_plan(plan, PRE, graph_stages(graph), graph)
    assert stage_plan.backwards is True
    assert names(stage_plan) == {
        "run": [("0004_merge", True), ("0002_remove_old", True)],
        "deferred": [],
        "blocked": [],
    }


def test_split_backwards_pre_deploy_defers_pre_deploy_migrations() -> None:
    graph = branched_graph()
    plan = backwards_plan(graph, ["0004_merge", "0003_add_new"])
    assert split(graph, plan, PRE) == {
        "run": [("0004_merge", True)],
        "deferred": ["0003_add_new"],
        "blocked": [],
    }


def test_split_backwards_pre_deploy_blocked_by_child() -> None:
    graph = linear_graph()
    # Un-applying the drop needs its child, a pre-deploy migration, un-applied first.
    plan = backwards_plan(graph, ["0003_add_new", "0002_remove_old"])
    assert split(graph, plan, PRE) == {
        "run": [],
        "deferred": ["0003_add_new"],
        "blocked": [("0002_remove_old", "0003_add_new")],
    }


def test_split_backwards_post_deploy_runs_everything() -> None:
    graph = linear_graph()
    plan = backwards_plan(graph, ["0003_add_new", "0002_remove_old"])
    stage_plan = split_plan(plan, POST, graph_stages(graph), graph)
    assert stage_plan.backwards is True
    assert names(stage_plan) == {
        "run": [("0003_add_new", True), ("0002_remove_old", True)],
        "deferred": [],
        "blocked": [],
    }


def test_split_empty_plan() -> None:
    graph = linear_graph()
    stage_plan = split_plan([], PRE, graph_stages(graph), graph)
    assert (stage_plan.backwards, stage_plan.run, stage_plan.deferred) == (False, [], [])


# -- checked_split ------------------------------------------------------------


def test_checked_split_returns_plan_when_nothing_blocked() -> None:
    graph = branched_graph()
    stage_plan = checked_split(forwards_plan(graph), PRE, graph_stages(graph), graph)
    assert [m.name for m, _ in stage_plan.run] == ["0001_initial", "0003_add_new"]


def test_checked_split_blocked_message() -> None:
    graph = linear_graph()
    with pytest.raises(StagePlanError) as error:
        checked_split(forwards_plan(graph), PRE, graph_stages(graph), graph)
    message = str(error.value)
    assert message.startswith("The pre-deploy stage cannot run")
    assert "Nothing was changed" in message
    assert (
        "testapp.0003_add_new depends on testapp.0002_remove_old (post-deploy, written)" in message
    )
    assert "two releases" in message
    assert "makemigrations" in message
    assert "GREEN_MAKEMIGRATIONS['STAGES']" in message


def test_checked_split_backwards_blocked_message() -> None:
    graph = linear_graph()
    plan = backwards_plan(graph, ["0003_add_new", "0002_remove_old"])
    with pytest.raises(StagePlanError) as error:
        checked_split(plan, PRE, graph_stages(graph), graph)
    assert "testapp.0002_remove_old depends on testapp.0003_add_new (pre-deploy, written)" in str(
        error.value
    )


def drop_marked_pre_deploy(stage: Stage | None) -> MigrationGraph:
    return make_graph(
        [
            make_migration("testapp", "0001_initial", [CREATE], stage=PRE),
            make_migration(
                "testapp", "0002_remove_old", [REMOVE], [("testapp", "0001_initial")], stage=stage
            ),
        ]
    )


@pytest.mark.parametrize("stage", [PRE, POST])
def test_checked_split_refuses_pre_deploy_drop(stage: Stage) -> None:
    graph = drop_marked_pre_deploy(PRE)
    with pytest.raises(StagePlanError) as error:
        checked_split(forwards_plan(graph), stage, graph_stages(graph), graph)
    message = str(error.value)
    assert message.startswith(
        f"The {stage.label} stage cannot run: testapp.0002_remove_old breaks a stage rule"
    )
    assert (
        "Migration testapp.0002_remove_old is pre-deploy (written) but drops data: "
        "Remove field old from book." in message
    )
    assert "Nothing was changed" in message
    assert "stage = Stage.POST_DEPLOY" in message


def test_checked_split_refuses_drop_marked_pre_deploy_in_settings(settings: Any) -> None:
    settings.GREEN_MAKEMIGRATIONS = {"STAGES": {"testapp": "pre_deploy"}}
    graph = drop_marked_pre_deploy(None)
    stages: dict[MigrationKey, StageInfo] = graph_stages(graph)
    assert stages["testapp", "0002_remove_old"] == StageInfo(PRE, "settings")
    for stage in Stage:
        with pytest.raises(StagePlanError, match="testapp.0002_remove_old is pre-deploy"):
            checked_split(forwards_plan(graph), stage, stages, graph)


def test_checked_split_allows_drop_in_post_deploy_and_rollback() -> None:
    graph = drop_marked_pre_deploy(POST)
    stages = graph_stages(graph)
    # The post-deploy stage runs the drops.
    post = checked_split(forwards_plan(graph), POST, stages, graph)
    assert [m.name for m, _ in post.run] == ["0001_initial", "0002_remove_old"]
    # Un-applying a drop restores data structures: no refusal, even of a
    # migration wrongly written pre-deploy.
    for stage in (PRE, POST):
        graph = drop_marked_pre_deploy(stage)
        plan = backwards_plan(graph, ["0002_remove_old"])
        for run_stage in Stage:
            rollback = checked_split(plan, run_stage, graph_stages(graph), graph)
            assert [(m.name, backwards) for m, backwards in rollback.run] == [
                ("0002_remove_old", True)
            ] * (run_stage is POST or stage is POST)


# -- rule_messages / warnings -------------------------------------------------

SEPARATE_DROP = operations.SeparateDatabaseAndState(
    database_operations=[REMOVE], state_operations=[REMOVE]
)
DROP_SQL = operations.RunSQL(["SELECT 1", ("ALTER TABLE testapp_book DROP COLUMN old", None)])
RENAME = operations.RenameField("book", "new", "newer")


def book_state(key: MigrationKey) -> ProjectState:
    """The state before any migration of these graphs: 0001_initial's."""
    return apply_operations(ProjectState(), "testapp", [CREATE])


def with_operations(*migration_operations: Any, stage: Stage | None = PRE) -> MigrationGraph:
    return make_graph(
        [
            make_migration("testapp", "0001_initial", [CREATE], stage=PRE),
            make_migration(
                "testapp",
                "0002_change",
                migration_operations,
                [("testapp", "0001_initial")],
                stage=stage,
            ),
        ]
    )


@pytest.mark.parametrize("stage", [PRE, POST, None], ids=["pre", "post", "inferred"])
def test_rule_messages(stage: Stage | None) -> None:
    graph = with_operations(ADD, RENAME, SEPARATE_DROP, DROP_SQL, stage=stage)
    migration = graph.nodes["testapp", "0002_change"]
    info = graph_stages(graph)["testapp", "0002_change"]
    messages = rule_messages(migration, info, book_state)
    by_id = {message.id: message for message in messages}
    # The drop makes an unwritten stage post-deploy.
    pre = stage is PRE
    assert sorted(by_id) == (["E004", "W001", "W002"] if pre else ["W002"])
    if pre:
        e004, w001 = by_id["E004"], by_id["W001"]
        assert e004.is_error and not w001.is_error
        assert e004.operations == (REMOVE,)
        assert e004.msg == (
            "Migration testapp.0002_change is pre-deploy (written) but drops data: Remove "
            "field old from book (in a SeparateDatabaseAndState's database_operations)."
        )
        assert w001.operations == (DROP_SQL,)
        assert w001.msg == (
            "Migration testapp.0002_change is pre-deploy (written) and its RunSQL (operation 4) "
            "may drop or rename what the previous release still uses: DROP COLUMN in "
            "`ALTER TABLE testapp_book DROP COLUMN old`."
        )
        assert "stage = Stage.POST_DEPLOY" in w001.hint and "ignore this warning" in w001.hint
    w002 = by_id["W002"]
    assert w002.operations == (RENAME,)
    assert w002.msg.startswith(
        f"Migration testapp.0002_change ({info.stage.label}, {info.source}) renames in the "
        "database: column new of table testapp_book becomes newer (Rename field new on book "
        "to newer)."
    )
    assert ("previous release" if pre else "new release") in w002.msg
    assert "db_column" in w002.hint and "makemigrations" in w002.hint
    # Without a state, renames are not looked for.
    assert "W002" not in {m.id for m in rule_messages(migration, info)}


def test_checked_split_collects_warnings_of_what_runs() -> None:
    graph = with_operations(ADD, DROP_SQL, RENAME)
    stages = graph_stages(graph)
    pre = checked_split(forwards_plan(graph), PRE, stages, graph, book_state)
    assert [m.id for m in pre.warnings] == ["W001", "W002"]
    lines = warnings(pre)
    assert lines[0].startswith(
        "Warning (green_makemigrations.W001): Migration testapp.0002_change is pre-deploy"
    )
    assert lines[1].startswith("Warning (green_makemigrations.W002): ")
    assert warnings(None) == []
    # Post-deploy runs it too, with the same warnings; backwards, no warnings.
    post = checked_split(forwards_plan(graph), POST, stages, graph, book_state)
    assert [m.id for m in post.warnings] == ["W001", "W002"]
    backwards = backwards_plan(graph, ["0002_change"])
    assert checked_split(backwards, POST, stages, graph, book_state).warnings == []
    # Already applied: nothing to say.
    plan = forwards_plan(graph, applied={"0001_initial", "0002_change"})
    assert checked_split(plan, PRE, stages, graph, book_state).warnings == []


def test_checked_split_ignores_state_only_drops() -> None:
    state_only = operations.SeparateDatabaseAndState(state_operations=[REMOVE])
    graph = with_operations(state_only, stage=None)
    stages = graph_stages(graph)
    assert stages["testapp", "0002_change"] == StageInfo(PRE, "inferred")
    pre = checked_split(forwards_plan(graph), PRE, stages, graph, book_state)
    assert [m.name for m, _ in pre.run] == ["0001_initial", "0002_change"]
    assert pre.warnings == []


def test_data_drops_with_the_state_count_only_database_drops() -> None:
    club = operations.CreateModel(
        "Club",
        [
            ("id", models.AutoField(primary_key=True)),
            ("members", models.ManyToManyField("testapp.Book", through="testapp.Member")),
            ("fans", models.ManyToManyField("testapp.Book")),
        ],
    )
    proxy = operations.CreateModel("Stand", [], options={"proxy": True}, bases=("testapp.book",))
    removals = [
        operations.RemoveField("club", "members"),  # its table is Member's: nothing dropped
        operations.RemoveField("club", "fans"),  # drops the auto-created table
        operations.DeleteModel("Stand"),  # a proxy: no table
    ]
    migration = make_migration("testapp", "0002_x", removals, stage=PRE)

    def state_before(key: MigrationKey) -> ProjectState:
        return apply_operations(ProjectState(), "testapp", [CREATE, club, proxy])

    assert data_drops(migration) == removals
    assert data_drops(migration, state_before) == [removals[1]]


def test_checked_split_names_every_migration_it_refuses(settings: Any) -> None:
    settings.GREEN_MAKEMIGRATIONS = {"STAGES": {"testapp": "pre_deploy"}}
    graph = make_graph(
        [
            make_migration("testapp", "0001_initial", [CREATE], stage=PRE),
            make_migration("testapp", "0002_drop", [REMOVE], [("testapp", "0001_initial")]),
            make_migration(
                "testapp", "0003_drop", [operations.DeleteModel("Book")], [("testapp", "0002_drop")]
            ),
        ]
    )
    with pytest.raises(StagePlanError) as error:
        checked_split(forwards_plan(graph), POST, graph_stages(graph), graph)
    message = str(error.value)
    assert message.startswith(
        "The post-deploy stage cannot run: testapp.0002_drop, testapp.0003_drop break a stage "
        "rule, and neither stage applies a migration that does. Nothing was changed.\n"
    )
    assert (
        "Migration testapp.0003_drop is pre-deploy (settings) but drops data: Delete model Book."
        in message
    )


def test_rule_messages_of_a_history_the_state_cannot_follow() -> None:
    # The field is gone from the state already: applying it fails, saying why;
    # the rules say nothing rather than fail first.
    rename = operations.RenameField("book", "gone", "went")
    migration = make_migration("testapp", "0002_x", [rename], stage=PRE)
    assert rule_messages(migration, StageInfo(PRE, "written"), book_state) == []
