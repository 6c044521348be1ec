"""Deploy rehearsal of the field-level changes of issue 12, with both releases running.

The fields pair (releases/fields_n.py -> fields_n1.py): a db_column added (an
expand/contract: the new column synced by triggers, swapped in post-deploy),
one added to a field made NOT NULL at the same time, a unique field with a
default removed (made nullable, not given a constant database default the
new release's second insert would collide on), a JSONField(default=list)
added (database default ``[]``) and db_index added to a field (built
concurrently on PostgreSQL). Release N's and release N+1's workers insert,
read, update and save rows of every model through both stages.

No rollback here: the removed unique field cannot get unique values back for
the rows release N+1 wrote (tests/commands/test_field_gaps.py rolls back the
others).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .harness import (
    SCENARIOS,
    ReleasePair,
    RollingDeploy,
    app_tables,
    assert_no_failures,
    assert_phases,
    build_scenario,
    rolling_deploy,
)

pytestmark = pytest.mark.rehearsal

MODELS = {"ColumnMoved", "ColumnMovedRequired", "UniqueDropped", "JsonAdded", "IndexAdded"}


@pytest.fixture(scope="module")
def fields(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> ReleasePair:
    return build_scenario(
        SCENARIOS["fields"], tmp_path_factory.mktemp("fields"), rehearsal_database("fields")
    )


@pytest.fixture(scope="module")
def deploy(fields: ReleasePair) -> RollingDeploy:
    deploy = rolling_deploy(fields.n, fields.n1)
    fields.at = "n1"
    print(deploy.old.failure_report())
    print(deploy.new.failure_report())
    return deploy


def test_fields_migrations_are_phased(fields: ReleasePair) -> None:
    n, n1 = fields.n, fields.n1
    new = set(n1.migration_names()[len(n.migration_names()) :])
    # Each stage's steps, the concurrent ones in migrations of their own.
    pre_names = [name for name in n1.migration_names_of_stage("PRE_DEPLOY") if name in new]
    post_names = [name for name in n1.migration_names_of_stage("POST_DEPLOY") if name in new]
    assert pre_names and post_names and set(pre_names) | set(post_names) == new, new
    assert max(pre_names) < min(post_names), (pre_names, post_names)
    pre = "".join(n1.migration_text(name) for name in pre_names)
    post = "".join(n1.migration_text(name) for name in post_names)
    assert pre.count("green_makemigrations.sync.SyncRetypedColumn(") == 2
    assert "green_makemigrations.operations.AlterFieldIndexConcurrently(" in pre
    assert "db_default=[]" in pre
    assert "atomic = False" in pre
    assert post.count("green_makemigrations.sync.ReplaceColumn(") == 2
    assert "migrations.RemoveField(\n            model_name='uniquedropped'" in post


def test_fields_roll_out_without_failed_queries(deploy: RollingDeploy) -> None:
    assert_no_failures(deploy.old, deploy.new)
    assert_phases(deploy.old, ["baseline", "pre-deploy", "both"], MODELS)
    assert_phases(deploy.new, ["both", "post-deploy"], MODELS)


def test_fields_schema_after_each_stage(deploy: RollingDeploy, fields: ReleasePair) -> None:
    prepared = app_tables(deploy.prepared)
    # The old columns take the new release's inserts (nullable) while synced.
    assert prepared["shop_columnmoved"] == {
        "id": False,
        "kept": False,
        "amount": True,
        "amount_col": True,
    }
    assert prepared["shop_columnmovedrequired"]["amount_col"] is True
    assert prepared["shop_uniquedropped"]["code"] is True
    final = app_tables(fields.n1.schema())
    assert final["shop_columnmoved"] == {"id": False, "kept": False, "amount_col": False}
    assert final["shop_columnmovedrequired"] == {"id": False, "kept": False, "amount_col": False}
    assert "code" not in final["shop_uniquedropped"]
    assert ("rank",) in fields.n1.schema().constraints("shop_indexadded", "index")
