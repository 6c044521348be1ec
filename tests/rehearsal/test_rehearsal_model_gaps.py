"""Deploy rehearsal of a renamed model whose table is altered in the same release.

Release N has Shelf (title, label, items); release N+1 calls it Rack, renames
label to tag and makes title unique (releases/mirrors_n.py ->
mirrors_n1.py). Pre-deploy renames the tables with a view (on SQLite a
mirror table) under each old name, then alters the renamed table and syncs
the renamed column: on SQLite the table is rebuilt while its mirror exists,
and the mirror's triggers and the sync's run on the same writes. Release N
and release N+1 query every model through the deploy and through the
rollback; no query may fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .harness import SCENARIOS, assert_no_failures, build_scenario, rolling_deploy, rolling_rollback

pytestmark = pytest.mark.rehearsal


def test_renamed_model_altered_in_the_same_release_deploys_and_rolls_back(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    pair = build_scenario(
        SCENARIOS["mirrors"],  # Yes: Shelf renamed to Rack; label renamed to tag.
        tmp_path_factory.mktemp("mirrors"),
        rehearsal_database("mirrors"),
    )
    n, n1 = pair.n, pair.n1
    assert "Was the model shop.Shelf renamed to Rack?" in pair.makemigrations_output
    pre_name = n1.migration_names()[len(n.migration_names())]
    assert "green_makemigrations.views.RenameModelWithViews(" in n1.migration_text(pre_name)

    deploy = rolling_deploy(n, n1)
    print(deploy.old.failure_report())
    print(deploy.new.failure_report())
    assert deploy.pre.returncode == 0, deploy.pre.stderr[-3000:]
    assert deploy.post.returncode == 0, deploy.post.stderr[-3000:]
    assert_no_failures(deploy.old, deploy.new)

    rollback = rolling_rollback(n, n1)
    print(rollback.new.failure_report())
    print(rollback.old.failure_report())
    assert rollback.pre.returncode == 0, rollback.pre.stderr[-3000:]
    assert_no_failures(rollback.new, rollback.old)
