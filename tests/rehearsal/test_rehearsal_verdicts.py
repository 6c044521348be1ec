"""Every rehearsal scenario deployed with Django's own migrations: the proof's verdict holds.

The scenarios' own modules deploy the package's migrations, and
rolling_deploy and rolling_rollback check there that verifystages' verdict,
taken before, is what the workers then meet. Here each scenario of
harness.SCENARIOS is deployed a second time with the migrations of
``makemigrations --stock``, through the package's stages (``migrate --stage
pre-deploy --skip-verify``, release N+1 beside release N, then
``--stage post-deploy``): stock Django's plans break releases in ways the
package's never do, so this is where a missed break or a false alarm of the
proof would show. The scenarios the package's rehearsals do not deploy
through rolling_deploy are deployed here with the package's migrations too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ..subset import chosen
from .harness import (
    RELEASES,
    SCENARIOS,
    assert_verdict_held,
    build_scenario,
    rolling_deploy,
    verdict_of,
)

pytestmark = pytest.mark.rehearsal

# Scenarios whose package migrations no other rehearsal deploys with rolling_deploy.
PACKAGE_ELSEWHERE_UNDEPLOYED = {"stock", "deadlock"}
# Stock plans the stages refuse: a pre-deploy migration (an addition) that
# depends on a post-deploy one (a removal of the pull request before it).
EXPECTED_REFUSED = {"multipr", "squash"}


def test_every_release_source_belongs_to_a_scenario() -> None:
    """A new pair of releases/ cannot escape the verdict check."""
    sources = {path.stem for path in RELEASES.glob("*.py")}
    used = {s.n_source for s in SCENARIOS.values()} | {
        source for s in SCENARIOS.values() for source in s.n1_sources
    }
    assert sources == used


# Shared between the Django versions of a run (tests/subset.py); representative,
# so run under each: removals and a refused plan.
CHOSEN = chosen(SCENARIOS, lambda name: name in {"cases", "multipr"})


@pytest.mark.parametrize(
    "name,flavour",
    [(name, "stock") for name in SCENARIOS if name in CHOSEN]
    + [(name, "green") for name in sorted(PACKAGE_ELSEWHERE_UNDEPLOYED) if name in CHOSEN],
)
def test_verdict_before_the_deploy_is_what_the_releases_meet(
    name: str,
    flavour: str,
    rehearsal_database: Callable[[str], dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    stock = flavour == "stock"
    pair = build_scenario(
        SCENARIOS[name],
        tmp_path_factory.mktemp(f"verdict-{name}-{flavour}"),
        rehearsal_database(f"v{name[:6]}{flavour[0]}"),
        stock=stock,
    )
    verdict = verdict_of(pair.n1)
    if verdict["refused"]:
        # The stages cannot run this plan: migrate says so and changes nothing.
        before = pair.n1.schema()
        refused = pair.n1.manage("migrate", "--stage", "pre-deploy", "--skip-verify", check=False)
        assert refused.returncode == 1 and "cannot run" in refused.stderr, refused.stderr
        assert pair.n1.schema() == before
        assert not stock or name in EXPECTED_REFUSED, verdict
        return
    assert name not in EXPECTED_REFUSED
    deploy = rolling_deploy(pair.n, pair.n1, check=False, skip_verify=stock, verdict=verdict)
    print(deploy.old.summary())
    print(deploy.new.summary())
    print(json.dumps(verdict, indent=2))
    assert_verdict_held(verdict, deploy.old, deploy.new)
    # A stage stops on the rows (a unique column added with one default for
    # every row) exactly when the proof said the migration would, on its table.
    stopping = {
        (v["migration"], v["operation"])
        for v in verdict["violations"]
        if v["release"] == "migration" and v["moment"] == "during post-deploy"
    }
    assert (deploy.post.returncode != 0) is bool(stopping), deploy.post.stderr
    for migration, operation in stopping:
        stopped = f"{migration}: operation "
        assert stopped in deploy.post.stderr and operation in deploy.post.stderr, deploy.post.stderr
    assert deploy.pre.returncode == 0
    assert not [
        v
        for v in verdict["violations"]
        if v["moment"] == "during pre-deploy" and v["release"] == "migration"
    ]
    if not stock:
        assert verdict["proven"] and deploy.post.returncode == 0, verdict
