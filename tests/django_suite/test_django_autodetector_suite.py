"""Django's own autodetector tests, run with GreenMigrationAutodetector.

The installed Django's ``tests/migrations/test_autodetector.py`` (from its
sdist, see source.py) runs under Django's ``tests/runtests.py`` in a
subprocess, with ``MigrationAutodetector`` rebound to our class in the test
module (launcher.py, run by runner.py). Every failure must be listed in
expected_differences.py with the way it fails; a listed test that passes is a
stale entry.
"""

from __future__ import annotations

import pytest

from . import runner
from .expected_differences import EXPECTED_DIFFERENCES, SPLIT, listed_failures, matches
from .runner import DJANGO_VERSION, Report

MODULE = "migrations.test_autodetector"
# Django 5.2 runs 166 tests in this module, 6.0 174, 6.1 176: fewer than this
# means the module was not (fully) collected.
MIN_TESTS = 150
AUTODETECTOR = "green_makemigrations.autodetector.GreenMigrationAutodetector"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """Run Django's autodetector tests with our autodetector; return the launcher's report."""
    return runner.run_module(MODULE, tmp_path_factory.mktemp("django_suite"))


def test_whole_module_ran(report: Report) -> None:
    runner.assert_whole_module_ran(report, MIN_TESTS)


def test_our_autodetector_was_used(report: Report) -> None:
    assert report["substituted"] == {MODULE: ["MigrationAutodetector"]}, report["output"]
    assert report["stock_references"] == {MODULE: []}
    # Every AutodetectorTests test builds at least one autodetector.
    autodetector_tests = [test for test in report["tests"] if test.startswith("AutodetectorTests.")]
    assert report["instances"][AUTODETECTOR] >= len(autodetector_tests) > 0
    # With Django's own class this test passes: one migration, one RemoveField.
    test = "AutodetectorTests.test_remove_field"
    assert report["tests"][test] == "failed"
    assert SPLIT.format(app="testapp") in report["details"][test]
    assert matches(EXPECTED_DIFFERENCES[test], report["details"][test])


def test_every_failure_is_listed(report: Report) -> None:
    runner.assert_every_failure_listed(report, listed_failures(DJANGO_VERSION))


def test_no_stale_entries(report: Report) -> None:
    runner.assert_no_stale_entries(report, listed_failures(DJANGO_VERSION))
