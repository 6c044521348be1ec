"""Run one module of Django's own test suite with launcher.py, and read its report.

Shared by the wrappers of Django's autodetector tests and command tests. The
subprocess always uses Django's own SQLite test settings (``test_sqlite``),
so a wrapper does the same work whichever settings pytest runs with
(tests.settings.sqlite, postgresql or mysql); it never touches pytest-django's
database.
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

from .expected_differences import Difference, matches
from .source import django_tests_dir

LAUNCHER = Path(__file__).with_name("launcher.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
DJANGO_VERSION = "{}.{}".format(*django.VERSION[:2])
FAILING = {"failed", "error", "unexpected_success"}

Report = dict[str, Any]


def run_module(module: str, directory: Path) -> Report:
    """Run Django's tests of module with our classes; return the launcher's report.

    Test ids in ``tests`` and ``details`` lose the ``module.`` prefix.
    """
    try:
        tests_dir = django_tests_dir()
    except (RuntimeError, OSError) as error:
        pytest.fail(f"Could not get Django {django.__version__}'s tests: {error}")
    report_path = directory / "report.json"
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
        module,
        "--settings=test_sqlite",
        "--parallel=1",
        "--noinput",
    ]
    # No standard input: a question that waited for an answer would hang the run.
    completed = subprocess.run(
        command,
        cwd=tests_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = f"$ {' '.join(command)}\n{completed.stdout}\n{completed.stderr}"
    if not report_path.exists():
        pytest.fail(f"The launcher wrote no report.\n{output}")
    result: Report = json.loads(report_path.read_text())
    result["output"] = output
    prefix = f"{module}."
    result["tests"] = {key.removeprefix(prefix): value for key, value in result["tests"].items()}
    result["details"] = {
        key.removeprefix(prefix): value for key, value in result["details"].items()
    }
    return result


def failures(report: Report) -> dict[str, str]:
    """Return the outcome of each failing test."""
    return {test: outcome for test, outcome in report["tests"].items() if outcome in FAILING}


def summary(report: Report) -> str:
    """Return a line counting the outcomes of the run."""
    outcomes: dict[str, int] = {}
    for outcome in report["tests"].values():
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return f"Django {report.get('django_version')}: {report.get('tests_run')} run, {outcomes}"


def assert_whole_module_ran(report: Report, min_tests: int) -> None:
    """Fail unless the run completed and ran at least min_tests tests."""
    assert "crash" not in report, report["crash"] + report["output"]
    assert report["django_version"] == django.__version__
    assert report["tests_run"] == len(report["tests"]), summary(report)
    assert report["tests_run"] >= min_tests, f"{summary(report)}\n{report['output']}"


def assert_every_failure_listed(report: Report, listed: dict[str, Difference]) -> None:
    """Fail if a test fails without being listed, or fails otherwise than listed."""
    problems = []
    for test, outcome in sorted(failures(report).items()):
        details = report["details"].get(test, "")
        if test not in listed:
            problems.append(f"UNLISTED {outcome}: {test}\n{details}")
        elif outcome == "unexpected_success" or not matches(listed[test], details):
            problems.append(
                f"FAILS DIFFERENTLY ({outcome}): {test}\n"
                f"  listed: {listed[test].reason}\n  expected, in order: "
                f"{listed[test].failure}\n{details}"
            )
    assert not problems, f"{summary(report)}\n\n" + "\n\n".join(problems)


def assert_no_stale_entries(report: Report, listed: dict[str, Difference]) -> None:
    """Fail if a listed test does not fail."""
    failing = failures(report)
    stale = [
        f"{test}: {report['tests'].get(test, 'not in this version of the module')} "
        f"({difference.reason})"
        for test, difference in sorted(listed.items())
        if test not in failing
    ]
    assert not stale, f"{summary(report)}\nListed but not failing:\n" + "\n".join(stale)
