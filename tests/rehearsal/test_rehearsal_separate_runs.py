"""Deploy rehearsal of changes authored in separate makemigrations runs, deployed together.

Release N+1 is written by two makemigrations runs (releases/separate_n1_pr1.py,
then separate_n1_pr2.py) before one deploy: the first renames a model (a
view, or on SQLite a mirror, under its old table name until post-deploy) and
moves another model's table; the second renames a field of each and makes one
unique (SQLite rebuilds the table while its mirror exists). Both releases'
workers query every model through the deploy, then through the rollback,
which must recreate the old names' views with the columns the tables have
then, not those the second run added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .harness import (
    SCENARIOS,
    ReleasePair,
    app_tables,
    assert_no_failures,
    assert_phases,
    build_scenario,
    rolling_deploy,
    rolling_rollback,
)

pytestmark = pytest.mark.rehearsal

SEPARATE_N_MODELS = {"Box", "Bin"}
SEPARATE_N1_MODELS = {"Crate", "Bin"}


@pytest.fixture(scope="module")
def separate(
    rehearsal_database: Callable[[str], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> ReleasePair:
    """Release N+1 from two makemigrations runs: table renames, then field changes."""
    return build_scenario(
        # Run 1: yes to the model rename; run 2: yes to both field renames.
        SCENARIOS["separate"],
        tmp_path_factory.mktemp("separate"),
        rehearsal_database("separate"),
        capture_schema=True,
    )


def test_separate_runs_deploy_and_roll_back_without_failed_queries(separate: ReleasePair) -> None:
    """Deploy both runs' migrations in one release, then roll them back, workers querying."""
    output = separate.makemigrations_output
    assert "Was the model shop.Box renamed to Crate?" in output
    assert "Was crate.title renamed to crate.label (a CharField)?" in output
    assert "Was bin.weight renamed to bin.mass (a IntegerField)?" in output
    separate.settle("n")
    deploy = rolling_deploy(separate.n, separate.n1)
    separate.at = "n1"
    assert_no_failures(deploy.old, deploy.new)
    assert_phases(deploy.old, ["baseline", "pre-deploy", "both"], SEPARATE_N_MODELS)
    assert_phases(deploy.new, ["both", "post-deploy"], SEPARATE_N1_MODELS)
    final = separate.n1.schema()
    assert app_tables(final) == {
        "shop_crate": {"id": False, "label": False, "size": False},
        "shop_storage_bin": {"id": False, "name": False, "mass": False},
    }
    assert ("size",) in final.constraints("shop_crate", "unique")

    rollback = rolling_rollback(separate.n, separate.n1)
    separate.at = "n"
    assert_no_failures(rollback.new, rollback.old)
    assert_phases(rollback.old, ["both", "rollback post-deploy"], SEPARATE_N_MODELS)
    assert separate.schema_n is not None
    assert app_tables(separate.n1.schema()) == app_tables(separate.schema_n)
    # And forwards again, all at once.
    separate.settle("n1")
    assert app_tables(separate.n1.schema()) == app_tables(final)
