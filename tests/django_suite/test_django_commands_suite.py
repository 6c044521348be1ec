"""Django's own makemigrations and migrate tests, run with this package's commands.

The installed Django's ``tests/migrations/test_commands.py`` (from its sdist,
see source.py) runs under Django's ``tests/runtests.py`` in a subprocess
(launcher.py, run by runner.py), with ``MakeMigrationsCommand``,
``MigrateCommand`` and ``MigrationAutodetector`` rebound to ours in the test
module and ``call_command("makemigrations")`` / ``call_command("migrate")`` /
``call_command("squashmigrations")`` loading this package's commands, on the
database backend pytest runs on.
Where nothing is phased the commands must behave as Django's: every failure
must be listed in
expected_command_differences.py with the way it fails, and a listed test that
passes is a stale entry. The subprocess has no standard input, so a question
that waited for an answer for ever would hang the run (and time out).
"""

from __future__ import annotations

import pytest
from django.db import connection

from . import runner
from .expected_command_differences import listed_failures
from .runner import DJANGO_VERSION, Report

MODULE = "migrations.test_commands"
# Django 5.2 runs 153 tests in this module, 6.0 160, 6.1 162: fewer than this
# means the module was not (fully) collected.
MIN_TESTS = 150
OURS = {
    "MigrationAutodetector": "green_makemigrations.autodetector.GreenMigrationAutodetector",
    "MakeMigrationsCommand": "green_makemigrations.management.commands.makemigrations.Command",
    "MigrateCommand": "green_makemigrations.management.commands.migrate.Command",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """Run Django's command tests with our commands; return the launcher's report."""
    directory = tmp_path_factory.mktemp("django_commands_suite")
    return runner.run_module(MODULE, directory, on_pytest_backend=True)


def test_whole_module_ran(report: Report) -> None:
    runner.assert_whole_module_ran(report, MIN_TESTS)


def test_ran_on_pytests_backend(report: Report) -> None:
    # migrate's tests run on the database pytest runs on (in databases of
    # their own): each backend's executor and locks meet Django's tests.
    assert report["vendor"] == connection.vendor


def test_our_commands_were_used(report: Report) -> None:
    assert report["substituted"] == {MODULE: list(OURS)}, report["output"]
    assert report["stock_references"] == {MODULE: []}
    # Most tests call makemigrations or migrate by name: call_command() must
    # have loaded ours, many times each, and they built our autodetector.
    makemigrations_tests = [test for test in report["tests"] if test.startswith("MakeMigrations")]
    migrate_tests = [test for test in report["tests"] if test.startswith("MigrateTests.")]
    instances = report["instances"]
    assert instances[OURS["MakeMigrationsCommand"]] >= len(makemigrations_tests) // 2 > 0
    assert instances[OURS["MigrateCommand"]] >= len(migrate_tests) > 0
    assert instances[OURS["MigrationAutodetector"]] > 0
    # With Django's commands this test passes: the rename is one RenameField.
    test = "MakeMigrationsTests.test_makemigrations_field_rename_interactive"
    assert report["tests"][test] == "failed"
    assert "phased (new column kept in sync by triggers" in report["details"][test]
    # squashmigrations is ours too: the fixture mixes stages, so it writes one per stage.
    test = "SquashMigrationsTests.test_squashmigrations_optimizes"
    assert report["tests"][test] == "failed"
    assert "one squashed migration per stage" in report["details"][test]


def test_every_failure_is_listed(report: Report) -> None:
    runner.assert_every_failure_listed(report, listed_failures(DJANGO_VERSION, connection.vendor))


def test_no_stale_entries(report: Report) -> None:
    runner.assert_no_stale_entries(report, listed_failures(DJANGO_VERSION, connection.vendor))
