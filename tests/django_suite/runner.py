"""Run one module of Django's own test suite with launcher.py, and read its report.

Shared by the wrappers of Django's autodetector tests and command tests. The
subprocess uses Django's own SQLite test settings (``test_sqlite``), or, with
``on_pytest_backend``, the same settings with the databases of the backend
pytest runs on (tests.settings.postgresql or mysql), under test database
names of their own: it never touches pytest-django's database.
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


SETTINGS_MODULE = "green_django_suite_settings"
SETTINGS = """\
from test_sqlite import *  # noqa: F403

DATABASES = {databases!r}
"""


def backend_databases() -> dict[str, dict[str, Any]] | None:
    """Return Django's test DATABASES on pytest's backend, or None on SQLite.

    Both aliases of Django's suite (``default`` and ``other``) get the
    connection settings of pytest's ``default`` and test database names
    of their own, so no other run's database is touched.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return None
    base = os.environ.get("GREEN_TEST_DB_NAME") or "test_green_makemigrations"
    keys = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
    databases = {}
    for alias in ("default", "other"):
        entry = {key: database[key] for key in keys if key in database}
        test = {key: value for key, value in database.get("TEST", {}).items() if value}
        test["NAME"] = f"{base}_django_{alias}"
        entry["TEST"] = test
        databases[alias] = entry
    return databases


def run_module(module: str, directory: Path, *, on_pytest_backend: bool = False) -> Report:
    """Run Django's tests of module with our classes; return the launcher's report.

    Test ids in ``tests`` and ``details`` lose the ``module.`` prefix; the
    report's ``vendor`` is the backend the tests ran on.
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
    paths = [env.get("PYTHONPATH"), str(REPO_ROOT)]
    settings_module = "test_sqlite"
    databases = backend_databases() if on_pytest_backend else None
    if databases is not None:
        (directory / f"{SETTINGS_MODULE}.py").write_text(SETTINGS.format(databases=databases))
        paths.append(str(directory))
        settings_module = SETTINGS_MODULE
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    command = [
        sys.executable,
        str(LAUNCHER),
        str(report_path),
        str(tests_dir / "runtests.py"),
        module,
        f"--settings={settings_module}",
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
