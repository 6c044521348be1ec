"""Deploy rehearsal of a release whose migrations were squashed, one squash per stage.

Release N is deployed; release N+1 is written by two makemigrations runs
(releases/squash_n1_pr1.py: a removal and a concurrent index; then
squash_n1_pr2.py: an addition with a default, placed beside the pending
drop), and its migrations are squashed before the deploy. The squashes
replace them: the pre-deploy stage applies the pre-deploy squash (not
atomic: it builds the index concurrently) under both releases' workers, the
post-deploy stage the other, and no query fails. Then a fresh database
migrates with a plain ``migrate``: on PostgreSQL a squash written as Django
writes it fails there, its concurrent index inside a transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .harness import (
    APP_LABEL,
    SCENARIOS,
    Project,
    app_tables,
    assert_no_failures,
    assert_phases,
    build_scenario,
    release_source,
    rolling_deploy,
)

pytestmark = pytest.mark.rehearsal

MODELS = {"Item", "Tag"}


def test_squashed_release_deploys_and_a_fresh_database_migrates(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("squash")
    pair = build_scenario(SCENARIOS["squash"], root, rehearsal_database("squash"))
    new = [name for name in pair.n1.migration_names() if name not in pair.n.migration_names()]
    pair.n1.manage("squashmigrations", APP_LABEL, new[0], new[-1], "--noinput")
    pre, post = sorted(set(pair.n1.migration_names()) - set(new) - set(pair.n.migration_names()))
    assert pre.endswith("_pre_deploy") and post.endswith("_post_deploy"), (pre, post)
    pre_text = pair.n1.migration_text(pre)
    assert "    stage = Stage.PRE_DEPLOY\n" in pre_text and "    atomic = False\n" in pre_text
    assert "AddIndexConcurrently(" in pre_text
    assert "    stage = Stage.POST_DEPLOY\n" in pair.n1.migration_text(post)

    deploy = rolling_deploy(pair.n, pair.n1)
    assert_no_failures(deploy.old, deploy.new)
    assert_phases(deploy.old, ["baseline", "pre-deploy", "both"], MODELS)
    assert_phases(deploy.new, ["both", "post-deploy"], MODELS)
    # Each stage ran its squash whole.
    assert pre in deploy.prepared.applied_names() and post not in deploy.prepared.applied_names()
    final = pair.n1.schema()
    assert {pre, post} <= set(final.applied_names())
    assert ("rank",) in final.constraints("shop_item", "index")

    # A fresh database: a plain migrate, the squashes in place of what they replace.
    fresh = Project.create(
        root / "fresh", rehearsal_database("squashfresh"), release_source("squash_n1_pr2")
    )
    for name in pair.n1.migration_names():
        source = pair.n1.path / APP_LABEL / "migrations" / f"{name}.py"
        (fresh.path / APP_LABEL / "migrations" / f"{name}.py").write_text(source.read_text())
    fresh.manage("migrate")
    schema = fresh.schema()
    assert {pre, post} <= set(schema.applied_names())
    assert app_tables(schema) == app_tables(final)
    assert ("rank",) in schema.constraints("shop_item", "index")
    fresh.manage("makemigrations", "--check", "--dry-run")
