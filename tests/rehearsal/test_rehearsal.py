"""Deploy rehearsals: rolling deploys with real processes of both releases.

Each rehearsal migrates a real database (the backend of ``--ds``) with the
real commands while worker processes run release N's and release N+1's code
in a loop, and asserts that no query of either release failed, then checks
the schema by introspection. A control rehearsal with Django's stock
migrations shows that the workers do see the failures of an unsafe deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from .harness import (
    APP_LABEL,
    MIN_OPS,
    SCENARIOS,
    ReleasePair,
    app_tables,
    assert_no_failures,
    assert_phases,
    build_scenario,
    release_source,
    rolling_deploy,
    rolling_rollback,
    run_phase,
    verdict_of,
)

pytestmark = pytest.mark.rehearsal

PRE = "Stage.PRE_DEPLOY"
POST = "Stage.POST_DEPLOY"

# Hash seeds under which makemigrations of the cases' release N+1 failed
# before 0829e48 (Python 3.11, Django 5.2): set order decided whether the
# drop of referrer.gone was sorted before its prep step.
FORMERLY_FAILING_HASH_SEEDS = ["0", "1"]


@pytest.fixture(scope="module")
def cases(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> ReleasePair:
    """Every removal case of the issue, one model each, in one release pair."""
    return build_scenario(
        SCENARIOS["cases"], tmp_path_factory.mktemp("cases"), rehearsal_database("cases")
    )


@pytest.fixture(scope="module")
def multi_pr(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> ReleasePair:
    """Release N+1 made of two pull requests: removals, then a nullable field added."""
    return build_scenario(
        SCENARIOS["multipr"],
        tmp_path_factory.mktemp("multi_pr"),
        rehearsal_database("multi"),
        capture_schema=True,
    )


# --- The removal cases --------------------------------------------------

N_MODELS = {
    "Target",
    "NullableRemoved",
    "NotNullRemoved",
    "DefaultRemoved",
    "TimestampsRemoved",
    "RelationsRemoved",
    "ManyToManyRemoved",
    "DbColumnRemoved",
    "IndexedRemoved",
    "UniqueTogetherRemoved",
    "ConstraintsRemoved",
    "CustomTableRemoved",
    "Gone",
    "Referrer",
    "FieldsAdded",
}
N1_MODELS = N_MODELS - {"Gone"}

# Columns dropped by the post-deploy stage -> whether the pre-deploy stage
# left them nullable: a database default keeps NOT NULL, else the fallback
# makes the column nullable so release N+1 can insert without it.
DROPPED_COLUMNS = {
    "shop_nullableremoved": {"note": True},
    "shop_notnullremoved": {"code": True},
    "shop_defaultremoved": {"status": False},
    "shop_timestampsremoved": {"created": False, "updated": False},
    "shop_relationsremoved": {"target_id": True, "profile_id": True},
    "shop_dbcolumnremoved": {"legacy_col": True},
    "shop_indexedremoved": {"rank": True},
    "shop_uniquetogetherremoved": {"slot": True},
    "shop_constraintsremoved": {"serial": True, "quantity": True},
    "shop_custom_table": {"extra": True},
    "shop_referrer": {"gone_id": True},
}
DROPPED_TABLES = {"shop_gone", "shop_manytomanyremoved_tags"}
# NOT NULL columns release N+1 adds: pre-deploy gives them a database default
# (release N's inserts omit them), post-deploy drops it.
ADDED_TABLE = "shop_fieldsadded"
ADDED_COLUMNS = {"quantity", "created", "token", "note", "target_id"}
# What release N+1 keeps: every table, with exactly these NOT NULL columns.
FINAL_TABLES = {
    table: {"id": False, "kept": False}
    for table in [
        "shop_nullableremoved",
        "shop_notnullremoved",
        "shop_defaultremoved",
        "shop_timestampsremoved",
        "shop_relationsremoved",
        "shop_manytomanyremoved",
        "shop_dbcolumnremoved",
        "shop_indexedremoved",
        "shop_uniquetogetherremoved",
        "shop_constraintsremoved",
        "shop_custom_table",
        "shop_referrer",
    ]
} | {
    "shop_target": {"id": False, "name": False},
    ADDED_TABLE: {"id": False, "kept": False} | dict.fromkeys(ADDED_COLUMNS, False),
}


def test_removals_and_additions_roll_out_without_failed_queries(cases: ReleasePair) -> None:
    """Every kind of removal, and NOT NULL additions, in two stages while both releases run."""
    n, n1 = cases.n, cases.n1
    new = n1.migration_names()[len(n.migration_names()) :]
    # Pre-deploy migrations, then post-deploy ones (those running outside a
    # transaction in migrations of their own).
    post_names = n1.migration_names_of_stage("POST_DEPLOY")
    pre_names = [name for name in new if name not in post_names]
    assert pre_names and post_names and new == pre_names + post_names, new
    assert all(PRE in n1.migration_text(name) for name in pre_names)
    cases.settle("n")

    # Release N's baseline queries seed rows in every table.
    deploy = rolling_deploy(n, n1)
    pre, prepared, old_result, new_result = deploy.pre, deploy.prepared, deploy.old, deploy.new
    assert "Left for the post-deploy stage:" in pre.stdout
    assert all(f"{APP_LABEL}.{name}" in pre.stdout for name in post_names)

    cases.at = "n1"
    assert_no_failures(old_result, new_result)
    assert_phases(old_result, ["baseline", "pre-deploy", "both"], N_MODELS)
    assert_phases(new_result, ["both", "post-deploy"], N1_MODELS)

    # Pre-deploy prepared the drops and dropped nothing.
    for table, columns in DROPPED_COLUMNS.items():
        present = prepared.columns(table)
        assert {column: present.get(column) for column in columns} == columns, table
    assert DROPPED_TABLES <= set(prepared.tables)
    assert prepared.applied_names() == n.migration_names() + pre_names
    # Constraints and indexes on removed fields go in pre-deploy (they could
    # stop release N+1's inserts); the column's foreign key stays.
    assert "rank" not in prepared.constrained_columns("shop_indexedremoved")
    assert "slot" not in prepared.constrained_columns("shop_uniquetogetherremoved")
    assert not {"serial", "quantity"} & prepared.constrained_columns("shop_constraintsremoved")
    # The added columns are NOT NULL from the start, with database defaults.
    assert prepared.columns(ADDED_TABLE) == FINAL_TABLES[ADDED_TABLE]
    defaults = prepared.defaults(ADDED_TABLE)
    assert {column for column, default in defaults.items() if default} == ADDED_COLUMNS

    final = n1.schema()
    assert app_tables(final) == FINAL_TABLES
    assert set(final.defaults(ADDED_TABLE).values()) == {None}
    assert not DROPPED_TABLES & set(final.tables)
    check = n1.manage("makemigrations", "--check", "--dry-run", check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_removal_split_does_not_depend_on_the_hash_seed(cases: ReleasePair, tmp_path: Path) -> None:
    """Deleting a model and the foreign key to it splits under every hash seed."""
    probe = cases.n.copy(tmp_path / "probe", release_source("cases_n1"))
    for seed in FORMERLY_FAILING_HASH_SEEDS:
        dry_run = probe.manage(
            "makemigrations", "--dry-run", "--noinput", check=False, env={"PYTHONHASHSEED": seed}
        )
        assert dry_run.returncode == 0, f"PYTHONHASHSEED={seed}:\n{dry_run.stderr}"


# --- Two pull requests in one release, and the rollback ---------------------

MULTI_N_MODELS = {"Label", "Archive", "Article"}
MULTI_N1_MODELS = {"Label", "Article"}


def test_multi_pr_release_applies_addition_before_the_drop(multi_pr: ReleasePair) -> None:
    """A release with a removal and a later addition: pre-deploy adds, post-deploy drops."""
    n, n1 = multi_pr.n, multi_pr.n1
    names = n1.migration_names()
    stages = {name: PRE in n1.migration_text(name) for name in names}
    # 0001 (N), the removal's prep (pre) and drop (post), then the addition
    # (pre) placed beside the drop, and a post-deploy merge keeping one leaf.
    assert [stages[name] for name in names] == [True, True, False, True, False], names
    addition = n1.migration_text(names[3])
    assert f"('{APP_LABEL}', '{names[1]}')" in addition and names[2] not in addition
    multi_pr.settle("n")

    deploy = rolling_deploy(n, n1)
    pre, prepared, old_result, new_result = deploy.pre, deploy.prepared, deploy.old, deploy.new
    assert f"Applying {APP_LABEL}.{names[3]}" in pre.stdout
    assert f"Applying {APP_LABEL}.{names[2]}" not in pre.stdout

    multi_pr.at = "n1"
    assert_no_failures(old_result, new_result)
    assert_phases(old_result, ["baseline", "pre-deploy", "both"], MULTI_N_MODELS)
    assert_phases(new_result, ["both", "post-deploy"], MULTI_N1_MODELS)

    assert prepared.columns("shop_article") == {
        "id": False,
        "title": False,
        "status": False,  # database default "draft", NOT NULL kept
        "published": False,  # database default Now()
        "note": True,
        "archive_id": True,
        "summary": True,  # the second pull request's addition
    }
    assert {"shop_archive", "shop_article_labels"} <= set(prepared.tables)
    assert prepared.applied_names() == [names[0], names[1], names[3]]
    final = n1.schema()
    assert app_tables(final) == {
        "shop_article": {"id": False, "title": False, "summary": True},
        "shop_label": {"id": False, "name": False},
    }
    check = n1.manage("makemigrations", "--check", "--dry-run", check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_rollback_through_both_stages(multi_pr: ReleasePair) -> None:
    """Roll release N+1 back to N: both stages backwards while each release runs.

    On the multi-PR pair, whose removals keep their data restorable (nullable
    fields, database defaults, a many-to-many, a model behind a nullable
    foreign key). A removal that took the nullable fallback cannot be rolled
    back past post-deploy: the re-added column holds NULL in every row, so
    making it NOT NULL again fails (PostgreSQL: IntegrityError "column ...
    contains null values"; MariaDB: DataError 1265 "Data truncated"), as
    reversing Django's own RemoveField of such a field does.
    """
    n, n1 = multi_pr.n, multi_pr.n1
    target = n.migration_names()[-1]
    multi_pr.settle("n1")
    names = n1.migration_names()

    rollback = rolling_rollback(n, n1)
    # Rolling back, pre-deploy un-applies the drops (release N+1 still runs).
    assert f"Unapplying {APP_LABEL}.{names[2]}" in rollback.pre.stdout
    assert f"Unapplying {APP_LABEL}.{names[3]}" not in rollback.pre.stdout
    new_result, old_result, restored = rollback.new, rollback.old, rollback.restored

    multi_pr.at = "n"
    assert_no_failures(new_result, old_result)
    assert_phases(new_result, ["baseline", "rollback pre-deploy", "both"], MULTI_N1_MODELS)
    assert_phases(old_result, ["both", "rollback post-deploy"], MULTI_N_MODELS)

    assert "summary" in restored.columns("shop_article")
    assert {"status", "published", "note", "archive_id"} <= set(restored.columns("shop_article"))
    assert restored.applied_names() == names[:2] + [names[3]]
    assert multi_pr.schema_n is not None
    final = n1.schema()
    assert app_tables(final) == app_tables(multi_pr.schema_n)
    assert final.applied_names() == [target]


# --- Control: Django's stock migrations break the running release -----------


def test_control_stock_removal_fails_queries_of_release_n(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same rehearsal with `makemigrations --stock` and `migrate` sees failed queries.

    Proves the workers detect an unsafe deploy: Django drops the NOT NULL
    column while release N still inserts and reads it, adds a NOT NULL
    column whose default it drops at once, so release N's inserts fail, and
    renames a column release N uses (makemigrations is told yes, it was a
    rename).
    """
    pair = build_scenario(
        SCENARIOS["stock"],
        tmp_path_factory.mktemp("stock"),
        rehearsal_database("stock"),
        stock=True,
    )
    assert "Was badge.label renamed to badge.caption" in pair.makemigrations_output
    new = pair.n1.migration_names()[-1]
    text = pair.n1.migration_text(new)
    assert "stage" not in text
    assert "migrations.RenameField(" in text and "IntegerField(default=0)" in text

    # The proof of this plan, before it runs, names the three models whose
    # queries then fail.
    verdict = verdict_of(pair.n1)
    named = {v["model"] for v in verdict["violations"]}
    assert not verdict["proven"] and {"shop.Ticket", "shop.Meter", "shop.Badge"} <= named, verdict
    with pair.n.worker("N", "baseline") as old:
        run_phase("baseline", [old])
        run_phase("migrate", [old], lambda: pair.n1.manage("migrate"))
        result = old.stop()

    print(result.summary())
    assert result.ops("baseline") >= MIN_OPS and result.ops("migrate") >= MIN_OPS
    baseline_failures = sum(c["failures"] for c in result.counts["baseline"].values())
    assert baseline_failures == 0, result.failure_report()
    assert result.counts["migrate"]["Ticket"]["failures"] > 0, result.summary()
    assert result.counts["migrate"]["Meter"]["failures"] > 0, result.summary()
    assert all("[migrate] insert" in text for text in result.errors["Meter"]), result.errors
    assert all("reading" in text for text in result.errors["Meter"]), result.errors
    assert result.counts["migrate"]["Badge"]["failures"] > 0, result.summary()
    assert all("label" in text for text in result.errors["Badge"]), result.errors
    print(result.failure_report())


# --- PostgreSQL: lock order of the post-deploy transaction ------------------

SLEEP_BEFORE_SECOND_DROP = (
    "        migrations.RunSQL('SELECT pg_sleep(0.2)', hints={'schema_effect': []}),\n"
)


def test_post_deploy_gives_up_its_locks_before_release_n1_loses_a_query(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two foreign keys to one table dropped while release N+1 inserts into the second table.

    PostgreSQL only, by nature: MariaDB commits each DDL statement and SQLite
    has a single writer, so neither holds one table's lock while waiting for
    another's. The post-deploy transaction drops left.target_id, keeping its
    lock on shop_target, then waits for shop_right, whose INSERTs by release
    N+1 hold shop_right and wait for shop_target (the foreign key trigger
    opens the referenced table even for NULL): a deadlock, in which
    PostgreSQL used to kill the application's INSERT (the main rehearsal hit
    it about one run in three). A 0.2 s sleep between the two drops makes
    the interleaving certain: the INSERT waits from the first drop on, the
    migration from 0.2 s on, so PostgreSQL's deadlock check (deadlock_timeout,
    1 s after the INSERT began to wait) would find the cycle and kill the
    INSERT, unless the migration's lock timeout (0.5 s) gave up first. Then,
    without traffic, the stage completes.
    """
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("PostgreSQL lock order")
    pair = build_scenario(
        SCENARIOS["deadlock"], tmp_path_factory.mktemp("deadlock"), rehearsal_database("lock")
    )
    post = pair.n1.migration_names()[-1]
    path = pair.n1.path / APP_LABEL / "migrations" / f"{post}.py"
    text = path.read_text()
    left, right = text.find("model_name='left'"), text.find("model_name='right'")
    second = text.rfind("        migrations.RemoveField(", 0, right)
    if not (POST in text and 0 < left < second < right):
        pytest.fail(f"unexpected post-deploy migration:\n{text}")
    path.write_text(text[:second] + SLEEP_BEFORE_SECOND_DROP + text[second:])
    pair.n1.manage("migrate", "--stage", "pre-deploy")

    def post_deploy() -> Any:
        return pair.n1.manage(
            "migrate", "--stage", "post-deploy", "--lock-retries", "0", check=False
        )

    with pair.n1.worker("N+1", "baseline", only=["Right"]) as current:
        run_phase("baseline", [current])
        contended = run_phase("post-deploy", [current], post_deploy)
        result = current.stop()

    print(result.summary())
    assert_no_failures(result)
    assert contended.returncode != 0
    assert "lock timeout" in contended.stderr, contended.stderr[-2000:]
    # Rolled back whole: nothing dropped, the migration not recorded.
    schema = pair.n1.schema()
    assert "target_id" in schema.columns("shop_left") and "target_id" in schema.columns(
        "shop_right"
    )
    assert post not in schema.applied_names()

    retried = post_deploy()
    assert retried.returncode == 0, retried.stderr[-2000:]
    final = pair.n1.schema()
    assert final.columns("shop_left") == final.columns("shop_right") == {"id": False, "kept": False}
