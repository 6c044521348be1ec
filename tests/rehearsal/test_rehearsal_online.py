"""Deploy rehearsals of the custom operations no other pair runs, with both releases writing.

The online pair (releases/online_n.py -> online_n1.py) makes a field unique,
a field set unique together, renames an indexed field, gives a foreign key
without a constraint one, and renames a table; makemigrations answers yes to
the rename. The deploy and then the rollback run through both stages while
release N's and release N+1's workers insert, update and read every model.
On SQLite the databases have Django's default settings (transactions begin
DEFERRED): each stage must wait for the workers' writes, not fail. Each
migration reads a table and waits half a second first (forwards and
backwards), so a transaction that read before it took the write lock would
meet a worker's write every time.

About 25 s per backend: by default it runs on SQLite, whose write lock it is
about; GREEN_REHEARSE_ONLINE=all runs it on PostgreSQL and MariaDB too.
"""

from __future__ import annotations

import os
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
    assert_no_failures,
    assert_phases,
    build_scenario,
    rolling_deploy,
    rolling_rollback,
)

pytestmark = [
    pytest.mark.rehearsal,
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3"
        and os.environ.get("GREEN_REHEARSE_ONLINE") != "all",
        reason="SQLite's write lock by default (GREEN_REHEARSE_ONLINE=all: every backend)",
    ),
]

MODELS = {
    "Target",
    "UniqueFieldMade",
    "UniqueTogetherMade",
    "IndexedRenamed",
    "ConstraintAdded",
    "TableRenamed",
}
RENAME_QUESTIONS = [
    "Was indexedrenamed.rank renamed to indexedrenamed.position (a IntegerField)?",
]
# Each custom operation, as the migrations write it.
OPERATIONS = [
    "green_makemigrations.operations.AlterFieldUniqueConcurrently(\n"
    "            model_name='uniquefieldmade',\n"
    "            name='code',",
    "green_makemigrations.operations.AlterUniqueTogetherConcurrently(\n"
    "            name='uniquetogethermade',",
    "green_makemigrations.sync.SyncRenamedColumns(\n"
    "            model_name='indexedrenamed',\n"
    "            old_name='rank',\n"
    "            new_name='position',",
    "green_makemigrations.foreign_keys.AlterFieldForeignKeyNotValid(\n"
    "            model_name='constraintadded',\n"
    "            name='target',",
    "green_makemigrations.views.AlterModelTableWithViews(\n"
    "            name='tablerenamed',\n"
    "            table='shop_new_table',",
]


READ_THEN_WAIT = """

def _read_then_wait(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop_target")
    time.sleep(0.5)

"""
READ_THEN_WAIT_OPERATION = (
    "        migrations.RunPython(\n"
    '            _read_then_wait, _read_then_wait, hints={"schema_effect": []}\n'
    "        ),\n"
)


def read_then_wait(pair: ReleasePair, name: str) -> None:
    """Make migration name read and wait first and last (first when unapplied)."""
    path = pair.n1.path / APP_LABEL / "migrations" / f"{name}.py"
    text = path.read_text()
    header = text.index("\n\nclass Migration")
    start = text.index("    operations = [\n") + len("    operations = [\n")
    end = text.rindex("    ]\n")
    path.write_text(
        "import time\n"
        + text[:header]
        + READ_THEN_WAIT
        + text[header:start]
        + READ_THEN_WAIT_OPERATION
        + text[start:end]
        + READ_THEN_WAIT_OPERATION
        + text[end:]
    )


@dataclass
class Rehearsal:
    """What the deploy and the rollback recorded."""

    pair: ReleasePair
    texts: str
    deploy_old: WorkerResult
    deploy_new: WorkerResult
    prepared: Schema
    final: Schema
    rollback_new: WorkerResult
    rollback_old: WorkerResult
    restored: Schema


@pytest.fixture(scope="module")
def online(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Rehearsal:
    """Deploy release N+1 in two stages, then roll it back in two, both releases writing."""
    pair = build_scenario(
        SCENARIOS["online"], tmp_path_factory.mktemp("online"), rehearsal_database("online")
    )
    n, n1 = pair.n, pair.n1
    texts = "".join(n1.migration_text(name) for name in n1.migration_names())
    for name in n1.migration_names()[len(n.migration_names()) :]:
        read_then_wait(pair, name)
    deploy = rolling_deploy(n, n1)
    final = n1.schema()
    rollback = rolling_rollback(n, n1)
    pair.at = "n"
    return Rehearsal(
        pair,
        texts,
        deploy.old,
        deploy.new,
        deploy.prepared,
        final,
        rollback.new,
        rollback.old,
        rollback.restored,
    )


def test_every_custom_operation_is_in_the_migrations(online: Rehearsal) -> None:
    assert len(SCENARIOS["online"].answers or ()) == len(RENAME_QUESTIONS)
    for question in RENAME_QUESTIONS:
        assert question in online.pair.makemigrations_output
    missing = [operation for operation in OPERATIONS if operation not in online.texts]
    assert not missing, f"{missing}\n{online.texts}"


def test_deploy_and_rollback_without_failed_queries(online: Rehearsal) -> None:
    """Neither release fails a query while each stage runs, forwards and back."""
    assert_no_failures(online.deploy_old, online.deploy_new)
    assert_phases(online.deploy_old, ["baseline", "pre-deploy", "both"], MODELS)
    assert_phases(online.deploy_new, ["both", "post-deploy"], MODELS)
    assert_no_failures(online.rollback_new, online.rollback_old)
    assert_phases(online.rollback_new, ["baseline", "rollback pre-deploy", "both"], MODELS)
    assert_phases(online.rollback_old, ["both", "rollback post-deploy"], MODELS)


def test_schema_after_the_deploy_and_the_rollback(online: Rehearsal) -> None:
    """Release N+1's unique indexes, constraint and names; release N's after the rollback."""
    final = online.final
    assert ("code",) in final.constraints("shop_uniquefieldmade", "unique")
    assert ("left", "right") in final.constraints("shop_uniquetogethermade", "unique")
    assert set(final.columns("shop_indexedrenamed")) == {"id", "position"}
    assert ("position",) in final.constraints("shop_indexedrenamed", "index")
    assert ("target_id",) in final.constraints("shop_constraintadded", "foreign_key")
    assert "shop_new_table" in final.tables and "shop_old_table" not in final.tables
    names = online.pair.n1.migration_names()
    post_names = online.pair.n1.migration_names_of_stage("POST_DEPLOY")
    assert online.restored.applied_names() == [name for name in names if name not in post_names]
