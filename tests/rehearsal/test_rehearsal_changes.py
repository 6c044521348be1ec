"""Deploy rehearsals of changes: renames, NOT NULL, type changes, indexes and constraints.

The changes pair (releases/changes_n.py -> changes_n1.py) holds one model per
change kind: field renames whose column changes (a new column kept in sync)
and one that keeps its column, a nullable field made NOT NULL, widenings in
place, and indexes, constraints and a foreign key added to tables holding
rows. makemigrations runs interactively and answers yes to each "Did you
rename...?". The deploy runs once, in a module fixture, while release N's and
release N+1's workers query every model; the tests check what it recorded.
Rows seeded before the deploy are read back after each stage through release
N+1's ORM, and after the rollback (run next, on the same database) through
release N's.

The views pair (releases/views_n.py -> views_n1.py) holds the model rename
(views under the old table names) and the table-rewriting type change
(expand/contract). Where these operations once left a window in which a
running release broke (the table renamed before its view existed, writes
between the end of the sync and the swap), the rehearsal widens the space
around each operation with a sleep, as the lock-order test of
test_rehearsal.py does, so a window that came back would fail every time on
PostgreSQL and MariaDB (SQLite runs these migrations in one transaction). The
pair is apart so the changes pair stays deterministic. On SQLite, where the
old names are mirror tables kept in sync by triggers, release N's writes must
succeed the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings

from .harness import (
    APP_LABEL,
    SCENARIOS,
    ReleasePair,
    Schema,
    WorkerResult,
    app_tables,
    assert_no_failures,
    assert_phases,
    build_scenario,
    rolling_deploy,
    rolling_rollback,
    run_phase,
)

pytestmark = pytest.mark.rehearsal

PRE = "Stage.PRE_DEPLOY"
POST = "Stage.POST_DEPLOY"
SQLITE = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"

# makemigrations asks about the field renames in the order of their models'
# names; yes to each.
RENAME_QUESTIONS = [
    "Was charrenamed.title renamed to charrenamed.headline (a CharField)?",
    "Was columnkeptrenamed.label renamed to columnkeptrenamed.tag (a CharField)?",
    "Was foreignkeyrenamed.owner renamed to foreignkeyrenamed.holder (a ForeignKey)?",
    "Was integerrenamed.count renamed to integerrenamed.total (a IntegerField)?",
    "Was nullablerenamed.note renamed to nullablerenamed.remark (a CharField)?",
]

N_MODELS = {
    "Target",
    "CharRenamed",
    "IntegerRenamed",
    "NullableRenamed",
    "ForeignKeyRenamed",
    "ColumnKeptRenamed",
    "MadeRequired",
    "Widened",
    "IndexesChanged",
    "CheckAdded",
    "UniqueAdded",
    "ForeignKeyAdded",
}
N1_MODELS = N_MODELS

# The phased operations each change must produce, as written in the files.
PRE_DEPLOY_OPERATIONS = [
    # Field renames whose column changes: new column, synced, backfilled.
    "green_makemigrations.sync.SyncRenamedColumns(\n"
    "            model_name='charrenamed',\n"
    "            old_name='title',\n"
    "            new_name='headline',",
    "model_name='integerrenamed',\n            old_name='count',\n            new_name='total',",
    "model_name='nullablerenamed',\n            old_name='note',\n            new_name='remark',",
    "model_name='foreignkeyrenamed',\n"
    "            old_name='owner',\n"
    "            new_name='holder',",
    # The rename that keeps its column: Django's state-only RenameField.
    "migrations.RenameField(\n"
    "            model_name='columnkeptrenamed',\n"
    "            old_name='label',\n"
    "            new_name='tag',",
    # Widenings in place.
    "migrations.AlterField(\n"
    "            model_name='widened',\n"
    "            name='name',\n"
    "            field=models.CharField(max_length=80),",
    "migrations.AlterField(\n"
    "            model_name='widened',\n"
    "            name='price',\n"
    "            field=models.DecimalField(decimal_places=2, max_digits=10),",
    # Indexes and constraints on tables with rows.
    "green_makemigrations.operations.AddIndexConcurrently(\n"
    "            model_name='indexeschanged',",
    "green_makemigrations.operations.RemoveIndexConcurrently(\n"
    "            model_name='indexeschanged',\n"
    "            name='shop_old_rank_idx',",
    "green_makemigrations.operations.AddCheckConstraintNotValid(\n"
    "            model_name='checkadded',",
    "green_makemigrations.operations.AddUniqueConstraintConcurrently(\n"
    "            model_name='uniqueadded',",
    # A foreign key added to a table with rows: NOT VALID, then validated.
    "green_makemigrations.foreign_keys.AddForeignKeyNotValid(\n"
    "            model_name='foreignkeyadded',\n"
    "            name='target',",
]
POST_DEPLOY_OPERATIONS = [
    "green_makemigrations.sync.StopSyncRenamedColumns(\n"
    "            model_name='charrenamed',\n"
    "            old_name='title',",
    "migrations.RemoveField(\n            model_name='charrenamed',\n            name='title',",
    "migrations.RemoveField(\n            model_name='integerrenamed',\n            name='count',",
    "migrations.RemoveField(\n            model_name='nullablerenamed',\n            name='note',",
    "migrations.RemoveField(\n"
    "            model_name='foreignkeyrenamed',\n"
    "            name='owner',",
    "green_makemigrations.operations.SetNotNull(\n"
    "            model_name='charrenamed',\n"
    "            name='headline',",
    "green_makemigrations.operations.SetNotNull(\n"
    "            model_name='foreignkeyrenamed',\n"
    "            name='holder',",
    "green_makemigrations.operations.SetNotNull(\n"
    "            model_name='maderequired',\n"
    "            name='code',\n"
    "            field=models.IntegerField(default=0),",
]
# Rows release N writes before the deploy, and what release N+1 must read
# back in them after each stage.
SEED = """
import decimal, json
from shop.models import *

target = Target.objects.create(name="seed")
print(json.dumps({
    "target": target.pk,
    "char": CharRenamed.objects.create(title="seed title").pk,
    "integer": IntegerRenamed.objects.create(count=41).pk,
    "nullable": NullableRenamed.objects.create(note=None).pk,
    "nullable_set": NullableRenamed.objects.create(note="seed note").pk,
    "fk": ForeignKeyRenamed.objects.create(owner=target).pk,
    "kept": ColumnKeptRenamed.objects.create(label="seed label").pk,
    "required": MadeRequired.objects.create(kept="seed", code=None).pk,
    "required_set": MadeRequired.objects.create(kept="seed", code=7).pk,
    "widened": Widened.objects.create(name="seed", price=decimal.Decimal("9999.99")).pk,
}))
"""
READ_BACK = """
import json
from shop.models import *

ids = json.loads({ids!r})
widened = Widened.objects.get(pk=ids["widened"])
print(json.dumps({{
    "char": CharRenamed.objects.get(pk=ids["char"]).headline,
    "integer": IntegerRenamed.objects.get(pk=ids["integer"]).total,
    "nullable": NullableRenamed.objects.get(pk=ids["nullable"]).remark,
    "nullable_set": NullableRenamed.objects.get(pk=ids["nullable_set"]).remark,
    "fk": ForeignKeyRenamed.objects.get(pk=ids["fk"]).holder_id,
    "kept": ColumnKeptRenamed.objects.get(pk=ids["kept"]).tag,
    "required": MadeRequired.objects.get(pk=ids["required"]).code,
    "required_set": MadeRequired.objects.get(pk=ids["required_set"]).code,
    "widened": [widened.name, str(widened.price)],
}}))
"""
# The same rows read by release N, after the rollback.
READ_BACK_N = (
    READ_BACK.replace(".headline", ".title")
    .replace(".total", ".count")
    .replace(".remark", ".note")
    .replace(".holder_id", ".owner_id")
    .replace(".tag", ".label")
)
# After post-deploy: values only the new types hold, written and read back
# by release N+1, then deleted (the rollback narrows the columns again).
NEW_TYPES = """
import decimal, json
from shop.models import *

widened = Widened.objects.create(name="x" * 80, price=decimal.Decimal("12345678.90"))
result = {
    "widened": list(Widened.objects.filter(pk=widened.pk).values_list("name", "price").get()),
}
widened.delete()
print(json.dumps(result, default=str))
"""


def expected_read_back(ids: dict[str, int]) -> dict[str, Any]:
    """Return what release N+1 must read in the seeded rows."""
    return {
        "char": "seed title",
        "integer": 41,
        "nullable": None,
        "nullable_set": "seed note",
        "fk": ids["target"],
        "kept": "seed label",
        "required": None,  # until post-deploy's SetNotNull fills it with the default
        "required_set": 7,
        "widened": ["seed", "9999.99"],
    }


# Tables after each stage: table -> {column: nullable}.
PREPARED_TABLES = {
    "shop_target": {"id": False, "name": False},
    # Both columns nullable while synced: each release's inserts omit one.
    "shop_charrenamed": {"id": False, "title": True, "headline": True},
    "shop_integerrenamed": {"id": False, "count": True, "total": True},
    "shop_nullablerenamed": {"id": False, "note": True, "remark": True},
    "shop_foreignkeyrenamed": {"id": False, "owner_id": True, "holder_id": True},
    "shop_columnkeptrenamed": {"id": False, "label": False},
    "shop_maderequired": {"id": False, "kept": False, "code": True},
    "shop_widened": {"id": False, "name": False, "price": False},
    "shop_indexeschanged": {"id": False, "rank": False, "old_rank": False},
    "shop_checkadded": {"id": False, "quantity": False},
    "shop_uniqueadded": {"id": False, "serial": False},
    "shop_foreignkeyadded": {"id": False, "kept": False, "target_id": True},
}
FINAL_TABLES = PREPARED_TABLES | {
    "shop_charrenamed": {"id": False, "headline": False},
    "shop_integerrenamed": {"id": False, "total": False},
    "shop_nullablerenamed": {"id": False, "remark": True},
    "shop_foreignkeyrenamed": {"id": False, "holder_id": False},
    "shop_maderequired": {"id": False, "kept": False, "code": False},
}


@dataclass
class Deploy:
    """What the deploy rehearsal recorded."""

    pair: ReleasePair
    old: WorkerResult
    new: WorkerResult
    pre_stdout: str
    prepared: Schema
    final: Schema
    seeded: dict[str, int]
    read_after_pre: dict[str, Any]
    read_after_post: dict[str, Any]
    new_types: dict[str, Any]


@dataclass
class Rollback:
    """What the rollback rehearsal recorded."""

    new: WorkerResult
    old: WorkerResult
    pre_stdout: str
    restored: Schema
    final: Schema


@pytest.fixture(scope="module")
def changes(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> ReleasePair:
    """Every change kind, one model each, in one release pair; renames answered yes."""
    return build_scenario(
        SCENARIOS["changes"],
        tmp_path_factory.mktemp("changes"),
        rehearsal_database("changes"),
        capture_schema=True,
    )


@pytest.fixture(scope="module")
def deploy(changes: ReleasePair) -> Deploy:
    """Deploy release N+1 in two stages while both releases' workers run."""
    n, n1 = changes.n, changes.n1
    seeded = n.shell(SEED)
    deploy = rolling_deploy(
        n, n1, between=lambda: n1.shell(READ_BACK.format(ids=json.dumps(seeded)))
    )
    pre, prepared, read_after_pre = deploy.pre, deploy.prepared, deploy.between
    old_result, new_result = deploy.old, deploy.new
    changes.at = "n1"
    print(old_result.failure_report())
    print(new_result.failure_report())
    return Deploy(
        pair=changes,
        old=old_result,
        new=new_result,
        pre_stdout=pre.stdout,
        prepared=prepared,
        final=n1.schema(),
        seeded=seeded,
        read_after_pre=read_after_pre,
        read_after_post=n1.shell(READ_BACK.format(ids=json.dumps(seeded))),
        new_types=n1.shell(NEW_TYPES),
    )


@pytest.fixture(scope="module")
def rollback(deploy: Deploy) -> Rollback:
    """Roll release N+1 back to N through both stages while each release runs."""
    n, n1 = deploy.pair.n, deploy.pair.n1
    deploy.pair.settle("n1")
    # Rolling back, pre-deploy un-applies the post-deploy migration.
    rollback = rolling_rollback(n, n1)
    deploy.pair.at = "n"
    print(rollback.new.failure_report())
    print(rollback.old.failure_report())
    return Rollback(rollback.new, rollback.old, rollback.pre.stdout, rollback.restored, n1.schema())


# --- makemigrations ----------------------------------------------------------


def test_generated_migrations_are_phased(changes: ReleasePair) -> None:
    """One pre-deploy and one post-deploy migration, holding each change's phased steps."""
    n, n1 = changes.n, changes.n1
    assert len(SCENARIOS["changes"].answers or ()) == len(RENAME_QUESTIONS)
    for question in RENAME_QUESTIONS:
        assert question in changes.makemigrations_output
    new = n1.migration_names()[len(n.migration_names()) :]
    # Each stage's operations, in order; those that run outside a transaction
    # are in migrations of their own.
    post_names = n1.migration_names_of_stage("POST_DEPLOY")
    pre_names = [name for name in new if name not in post_names]
    assert pre_names and post_names and new == pre_names + post_names, new
    pre = "".join(n1.migration_text(name) for name in pre_names)
    post = "".join(n1.migration_text(name) for name in post_names)
    assert PRE in pre and POST in post
    missing_pre = [step for step in PRE_DEPLOY_OPERATIONS if step not in pre]
    missing_post = [step for step in POST_DEPLOY_OPERATIONS if step not in post]
    assert not missing_pre, f"{missing_pre}\n{pre}"
    assert not missing_post, f"{missing_post}\n{post}"
    # NOT NULL made in post-deploy only; no unsync or drop in pre-deploy.
    for later in ("SetNotNull", "StopSync", "RemoveField"):
        assert later not in pre, later
    # The rename that keeps db_column touches no column: no sync for it.
    assert "old_name='label'" not in pre.replace(
        "migrations.RenameField(\n            model_name='columnkeptrenamed',\n"
        "            old_name='label',",
        "",
    )


# --- The deploy ----------------------------------------------------------------


def test_changes_roll_out_without_failed_queries(deploy: Deploy) -> None:
    """Both releases run every query without failure through both stages."""
    assert_no_failures(deploy.old, deploy.new)
    assert_phases(deploy.old, ["baseline", "pre-deploy", "both"], N_MODELS)
    assert_phases(deploy.new, ["both", "post-deploy"], N1_MODELS)
    n1 = deploy.pair.n1
    assert "Left for the post-deploy stage:" in deploy.pre_stdout
    assert f"{APP_LABEL}.{n1.migration_names()[-1]}" in deploy.pre_stdout


def test_seeded_rows_read_back_after_each_stage(deploy: Deploy) -> None:
    """Backfills and syncs keep every value; SetNotNull fills the NULL with the default."""
    expected = expected_read_back(deploy.seeded)
    assert deploy.read_after_pre == expected
    assert deploy.read_after_post == expected | {"required": 0}
    assert deploy.new_types == {"widened": ["x" * 80, "12345678.90"]}


def test_schema_after_each_stage(deploy: Deploy) -> None:
    """Pre-deploy adds and syncs, drops nothing; post-deploy leaves release N+1's schema."""
    prepared, final = deploy.prepared, deploy.final
    names = deploy.pair.n1.migration_names()
    post_names = deploy.pair.n1.migration_names_of_stage("POST_DEPLOY")
    assert prepared.applied_names() == [name for name in names if name not in post_names]
    assert app_tables(prepared) == PREPARED_TABLES
    assert final.applied_names() == names
    assert app_tables(final) == FINAL_TABLES

    for schema in (prepared, final):
        indexed = schema.constraints("shop_indexeschanged", "index")
        assert ("rank",) in indexed and ("old_rank",) not in indexed
        assert ("quantity",) in schema.constraints("shop_checkadded", "check") or (
            # SQLite's introspection names no column of a check constraint.
            SQLITE and schema.constraints("shop_checkadded", "check")
        )
        assert ("serial",) in schema.constraints("shop_uniqueadded", "unique")
        assert ("target_id",) in schema.constraints("shop_foreignkeyadded", "foreign_key")
    assert ("holder_id",) in final.constraints("shop_foreignkeyrenamed", "foreign_key")


def test_nothing_left_to_migrate(deploy: Deploy) -> None:
    """After post-deploy, makemigrations finds the models and the migrations in agreement."""
    check = deploy.pair.n1.manage("makemigrations", "--check", "--dry-run", check=False)
    assert check.returncode == 0, check.stdout + check.stderr


# --- The rollback ----------------------------------------------------------------


def test_rollback_through_both_stages(rollback: Rollback, deploy: Deploy) -> None:
    """Roll back to release N: post-deploy's steps while N+1 runs, pre-deploy's while N runs."""
    assert_no_failures(rollback.new, rollback.old)
    assert_phases(rollback.new, ["baseline", "rollback pre-deploy", "both"], N1_MODELS)
    assert_phases(rollback.old, ["both", "rollback post-deploy"], N_MODELS)
    names = deploy.pair.n1.migration_names()
    post_names = deploy.pair.n1.migration_names_of_stage("POST_DEPLOY")
    pre_names = [name for name in names if name not in post_names]
    assert all(f"Unapplying {APP_LABEL}.{name}" in rollback.pre_stdout for name in post_names)
    assert f"Unapplying {APP_LABEL}.{pre_names[-1]}" not in rollback.pre_stdout
    # Release N+1 back on the pre-deploy schema: old columns restored.
    assert rollback.restored.applied_names() == pre_names
    assert app_tables(rollback.restored) == PREPARED_TABLES
    assert deploy.pair.schema_n is not None
    assert app_tables(rollback.final) == app_tables(deploy.pair.schema_n)
    assert rollback.final.applied_names() == names[:1]


def test_rollback_keeps_the_rows_of_both_releases(rollback: Rollback, deploy: Deploy) -> None:
    """After the rollback release N reads the seeded rows under their old names.

    NOT NULL came off code again, but the default SetNotNull filled in stays.
    """
    expected = expected_read_back(deploy.seeded)
    assert deploy.pair.n.shell(READ_BACK_N.format(ids=json.dumps(deploy.seeded))) == {
        "char": expected["char"],
        "integer": expected["integer"],
        "nullable": expected["nullable"],
        "nullable_set": expected["nullable_set"],
        "fk": expected["fk"],
        "kept": expected["kept"],
        "required": 0,
        "required_set": expected["required_set"],
        "widened": expected["widened"],
    }


# --- The views pair: a renamed table and a retyped column ----------------------

VIEWS_N_MODELS = {"Target", "Catalog", "IntegerRetyped"}
VIEWS_N1_MODELS = {"Target", "Library", "IntegerRetyped"}
RENAMED_MODEL = "Catalog"
OLD_VIEWS = ["shop_catalog", "shop_catalog_items"]
# Each backend's words for the table release N uses being gone.
MISSING_TABLE = (
    "no such table: shop_catalog",  # SQLite, were it not one transaction
    '"shop_catalog" does not exist',
    "shop_catalog' doesn't exist",
)
# The rename with its views in one operation: release N never misses its table.
RENAME_WITH_VIEWS = (
    "green_makemigrations.views.RenameModelWithViews(\n"
    "            old_name='Catalog',\n"
    "            new_name='Library',\n"
    "            views=[('shop_catalog', None, {}), "
    "('shop_catalog_items', 'items', {'catalog_id': 'library_id'})],"
)
VIEWS_PRE_DEPLOY_OPERATIONS = [
    "migrations.AddField(\n"
    "            model_name='integerretyped',\n"
    "            name='amount_retyped',\n"
    "            field=models.BigIntegerField(null=True),",
    "green_makemigrations.sync.SyncRetypedColumn(\n"
    "            model_name='integerretyped',\n"
    "            old_name='amount',\n"
    "            new_name='amount_retyped',",
]
VIEWS_POST_DEPLOY_OPERATIONS = [
    "green_makemigrations.views.DropView(\n            name='shop_catalog',",
    "green_makemigrations.views.DropView(\n            name='shop_catalog_items',",
    "green_makemigrations.sync.ReplaceColumn(\n"
    "            model_name='integerretyped',\n"
    "            old_name='amount',\n"
    "            new_name='amount_retyped',",
    "green_makemigrations.operations.SetNotNull(\n"
    "            model_name='integerretyped',\n"
    "            name='amount',\n"
    "            field=models.BigIntegerField(),",
]
# Widens the window after the operation it follows, forwards and backwards. It
# declares that it changes no schema, so the stage run's proof takes it as such.
SLEEP = '        migrations.RunPython(_sleep, _sleep, hints={"schema_effect": []}),\n'
SLEEP_FUNCTION = "\n\ndef _sleep(apps, schema_editor):\n    time.sleep(0.5)\n\n"


@dataclass
class ViewsDeploy:
    """What the deploy of the views pair recorded."""

    pair: ReleasePair
    pre_text: str
    post_text: str
    old: WorkerResult
    new: WorkerResult
    prepared: Schema
    post: Any  # the post-deploy command's CompletedProcess


def insert_sleep(project: Any, name: str, operation: str, *, before: bool = False) -> str:
    """Put a half-second RunPython right after (or before) an operation of a migration.

    operation is the start of the operation's text. Returns the migration's
    text as makemigrations wrote it.
    """
    path = project.path / APP_LABEL / "migrations" / f"{name}.py"
    text = path.read_text()
    start = text.find(operation)
    closing = "\n        ),\n"
    end = text.find(closing, start) + len(closing)
    if start < 0 or end < len(closing):
        pytest.fail(f"no {operation!r} in {name}:\n{text}")
    at = start if before else end
    header = text.index("\n\nclass Migration")
    path.write_text(
        "import time\n" + text[:header] + SLEEP_FUNCTION + text[header:at] + SLEEP + text[at:]
    )
    return text


@pytest.fixture(scope="module")
def views(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> ViewsDeploy:
    """Deploy the renamed table and the retyped column, their windows widened."""
    pair = build_scenario(
        SCENARIOS["views"], tmp_path_factory.mktemp("views"), rehearsal_database("views")
    )
    n, n1 = pair.n, pair.n1
    # The migration renaming the table, and the one swapping the retyped column.
    names = n1.migration_names()[1:]
    pre_name = next(name for name in names if "RenameModel" in n1.migration_text(name))
    post_name = next(name for name in names if "sync.ReplaceColumn(" in n1.migration_text(name))
    post_names = n1.migration_names_of_stage("POST_DEPLOY")
    # What each stage's migrations say, before the sleeps go in.
    pre_text = "".join(n1.migration_text(name) for name in names if name not in post_names)
    post_text = "".join(n1.migration_text(name) for name in post_names)
    # Between the table's rename and its view; just before the swap of the
    # retyped column (after the end of its sync, where that comes first).
    rename = "        migrations.RenameModel("
    if rename not in n1.migration_text(pre_name):
        rename = "        green_makemigrations.views.RenameModelWithViews("
    insert_sleep(n1, pre_name, rename)
    insert_sleep(
        n1,
        post_name,
        "        green_makemigrations.sync.ReplaceColumn(\n"
        "            model_name='integerretyped',",
        before=True,
    )
    deploy = rolling_deploy(n, n1, check=False)
    post, prepared, old_result, new_result = deploy.post, deploy.prepared, deploy.old, deploy.new
    pair.at = None
    print(old_result.failure_report())
    print(new_result.failure_report())
    print(post.stderr[-1500:])
    return ViewsDeploy(pair, pre_text, post_text, old_result, new_result, prepared, post)


def failures(result: WorkerResult, model: str, phase: str, *kinds: str) -> int:
    """Return the model's failed queries in phase whose error text holds one of kinds."""
    return sum(
        count
        for text, count in result.errors.get(model, {}).items()
        if text.startswith(f"[{phase}]") and any(kind in text for kind in kinds)
    )


def test_views_migrations_are_phased(views: ViewsDeploy) -> None:
    """The rename keeps views under the old names; the retype syncs a new column, then swaps."""
    assert "Was the model shop.Catalog renamed to Library?" in views.pair.makemigrations_output
    assert PRE in views.pre_text and POST in views.post_text
    missing = [
        step
        for step in [RENAME_WITH_VIEWS, *VIEWS_PRE_DEPLOY_OPERATIONS]
        if step not in views.pre_text
    ]
    missing += [step for step in VIEWS_POST_DEPLOY_OPERATIONS if step not in views.post_text]
    assert not missing, f"{missing}\n{views.pre_text}\n{views.post_text}"
    assert {"shop_library", "shop_library_items"} <= set(views.prepared.tables)
    if SQLITE:
        # Mirror tables stand in for the views.
        assert not [v for v in views.prepared.views if v.startswith(APP_LABEL)]
        assert set(OLD_VIEWS) <= set(views.prepared.tables)
    else:
        assert [v for v in views.prepared.views if v.startswith(APP_LABEL)] == OLD_VIEWS
        assert not set(OLD_VIEWS) & set(views.prepared.tables)
    assert views.prepared.columns("shop_integerretyped") == {
        "id": False,
        "kept": False,
        "amount": False,
        "amount_retyped": True,
    }
    assert_phases(views.old, ["baseline", "pre-deploy", "both"], VIEWS_N_MODELS)
    assert_phases(views.new, ["both", "post-deploy"], VIEWS_N1_MODELS)


def test_release_n_never_misses_the_renamed_table(views: ViewsDeploy) -> None:
    """From the rename of the table on, release N finds a view under the old name.

    SQLite runs the migration in one transaction: no window there.
    """
    missed = failures(views.old, RENAMED_MODEL, "pre-deploy", *MISSING_TABLE)
    assert missed == 0, views.old.failure_report()
    phase = views.old.counts["pre-deploy"][RENAMED_MODEL]
    assert phase["ops"] > 0
    # Nothing else failed either: on MariaDB, the many-to-many table's
    # column its view names is not renamed but kept, a new one beside it.
    assert phase["failures"] == 0, views.old.failure_report()


def test_release_n_reads_and_writes_through_the_views(views: ViewsDeploy) -> None:
    """With both releases running, release N's queries of the renamed model do not fail.

    On SQLite the old names are mirror tables kept in sync by triggers: the
    same queries run there, inserts get their key back and updates count
    their rows.
    """
    phase = views.old.counts["both"][RENAMED_MODEL]
    assert phase["ops"] > 0
    assert phase["failures"] == 0, views.old.failure_report()
    assert not {m: c for m, c in views.old.failures_by_model().items() if m != RENAMED_MODEL}


def test_post_deploy_keeps_release_n1_writes_to_the_retyped_column(views: ViewsDeploy) -> None:
    """The retyped column's swap keeps every value release N+1 writes meanwhile."""
    assert views.post.returncode == 0, views.post.stderr[-3000:]
    assert_no_failures(views.new)


def test_rollback_keeps_release_n1_writes_to_the_retyped_column(
    rehearsal_database: Callable[[str], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Rolling the retyped column's swap back keeps what release N+1 writes meanwhile.

    The deploy runs without workers; the rollback's pre-deploy stage runs
    while release N+1 inserts and updates, the window between the reversed
    swap and the restarted sync widened by a sleep.
    """
    pair = build_scenario(
        SCENARIOS["views"],
        tmp_path_factory.mktemp("retype_rollback"),
        rehearsal_database("unretype"),
    )
    n1 = pair.n1
    insert_sleep(
        n1,
        n1.migration_names()[-1],
        "        green_makemigrations.sync.ReplaceColumn(\n"
        "            model_name='integerretyped',",
        before=True,
    )
    n1.manage("migrate")
    target = pair.n.migration_names()[-1]
    with n1.worker("N+1", "baseline", only=["IntegerRetyped"]) as current:
        run_phase("baseline", [current])
        rollback = run_phase(
            "rollback pre-deploy",
            [current],
            lambda: n1.manage("migrate", APP_LABEL, target, "--stage", "pre-deploy", check=False),
        )
        result = current.stop()
    print(result.summary())
    assert rollback.returncode == 0, rollback.stderr[-3000:]
    assert_no_failures(result)
    missing = n1.shell(
        "import json\n"
        "from shop.models import IntegerRetyped\n"
        "print(json.dumps(IntegerRetyped.objects.filter(amount__isnull=True).count()))"
    )
    assert missing == 0
