"""Django's own autodetector tests, run with GreenMigrationAutodetector.

The installed Django's ``tests/migrations/test_autodetector.py`` (from its
sdist, see source.py) runs under Django's ``tests/runtests.py`` in a
subprocess, with ``MigrationAutodetector`` rebound to our class in the test
module (launcher.py). Every failure must be listed in expected_differences.py
with the way it fails; a listed test that passes is a stale entry.

The subprocess always uses Django's own SQLite test settings (``test_sqlite``):
the autodetector tests need no real database. So these tests pass, and do the
same work, whichever settings pytest runs with (tests.settings.sqlite,
postgresql or mysql); they never touch pytest-django's database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import django
import pytest

from .expected_differences import EXPECTED_DIFFERENCES, SPLIT, listed_failures, matches
from .source import django_tests_dir

MODULE = "migrations.test_autodetector"
LAUNCHER = Path(__file__).with_name("launcher.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
DJANGO_VERSION = "{}.{}".format(*django.VERSION[:2])
# Django 5.2 runs 166 tests in this module, 6.0 174, 6.1 176: fewer than this
# means the module was not (fully) collected.
MIN_TESTS = 150
FAILING = {"failed", "error", "unexpected_success"}

Report = dict[str, Any]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """Run Django's autodetector tests with our autodetector; return the launcher's report."""
    try:
        tests_dir = django_tests_dir()
    except (RuntimeError, OSError) as error:
        pytest.fail(f"Could not get Django {django.__version__}'s tests: {error}")
    report_path = tmp_path_factory.mktemp("django_suite") / "report.json"
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    # Django builds some operation dependency lists from sets, so the order in
    # which it sorts operations can follow the hash seed: pin it, so that every
    # run sees the same outcomes (an order-dependent bug fails every run, or none).
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(REPO_ROOT)]))
    command = [
        sys.executable,
        str(LAUNCHER),
        str(report_path),
        str(tests_dir / "runtests.py"),
        MODULE,
        "--settings=test_sqlite",
        "--parallel=1",
        "--noinput",
    ]
    completed = subprocess.run(
        command, cwd=tests_dir, env=env, capture_output=True, text=True, timeout=600
    )
    output = f"$ {' '.join(command)}\n{completed.stdout}\n{completed.stderr}"
    if not report_path.exists():
        pytest.fail(f"The launcher wrote no report.\n{output}")
    result: Report = json.loads(report_path.read_text())
    result["output"] = output
    prefix = f"{MODULE}."
    result["tests"] = {key.removeprefix(prefix): value for key, value in result["tests"].items()}
    result["details"] = {
        key.removeprefix(prefix): value for key, value in result["details"].items()
    }
    return result


def _failures(report: Report) -> dict[str, str]:
    return {test: outcome for test, outcome in report["tests"].items() if outcome in FAILING}


def _summary(report: Report) -> str:
    outcomes: dict[str, int] = {}
    for outcome in report["tests"].values():
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return f"Django {report.get('django_version')}: {report.get('tests_run')} run, {outcomes}"


def test_whole_module_ran(report: Report) -> None:
    assert "crash" not in report, report["crash"] + report["output"]
    assert report["django_version"] == django.__version__
    assert report["tests_run"] == len(report["tests"]), _summary(report)
    assert report["tests_run"] >= MIN_TESTS, f"{_summary(report)}\n{report['output']}"


def test_our_autodetector_was_used(report: Report) -> None:
    assert report["substituted"], report["output"]
    assert report["stock_references"] == []
    # Every AutodetectorTests test builds at least one autodetector.
    autodetector_tests = [test for test in report["tests"] if test.startswith("AutodetectorTests.")]
    assert report["instances"] >= len(autodetector_tests) > 0
    # With Django's own class this test passes: one migration, one RemoveField.
    test = "AutodetectorTests.test_remove_field"
    assert report["tests"][test] == "failed"
    assert SPLIT.format(app="testapp") in report["details"][test]
    assert matches(EXPECTED_DIFFERENCES[test], report["details"][test])


def test_every_failure_is_listed(report: Report) -> None:
    listed = listed_failures(DJANGO_VERSION)
    problems = []
    for test, outcome in sorted(_failures(report).items()):
        details = report["details"].get(test, "")
        if test not in listed:
            problems.append(f"UNLISTED {outcome}: {test}\n{details}")
        elif outcome == "unexpected_success" or not matches(listed[test], details):
            problems.append(
                f"FAILS DIFFERENTLY ({outcome}): {test}\n"
                f"  listed: {listed[test].reason}\n  expected, in order: "
                f"{listed[test].failure}\n{details}"
            )
    assert not problems, f"{_summary(report)}\n\n" + "\n\n".join(problems)


def test_no_stale_entries(report: Report) -> None:
    failures = _failures(report)
    stale = [
        f"{test}: {report['tests'].get(test, 'not in this version of the module')} "
        f"({difference.reason})"
        for test, difference in sorted(listed_failures(DJANGO_VERSION).items())
        if test not in failures
    ]
    assert not stale, f"{_summary(report)}\nListed but not failing:\n" + "\n".join(stale)
