"""Run Django's autodetector tests with GreenMigrationAutodetector in their namespace.

Usage (what the pytest wrapper runs in a subprocess)::

    python launcher.py REPORT.json DJANGO/tests/runtests.py [runtests arguments...]

An import hook rebinds ``MigrationAutodetector`` in ``migrations.test_autodetector``
to ``green_makemigrations.autodetector.GreenMigrationAutodetector`` as soon as
Django's test runner imports the module; then Django's own ``runtests.py`` runs
as ``__main__``. The outcome of every test is written to REPORT.json, with
proof that the substitution happened (the instances of our class created).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import runpy
import sys
import traceback
import unittest
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

TEST_MODULE = "migrations.test_autodetector"
NAME = "MigrationAutodetector"

report: dict[str, Any] = {
    "substituted": False,
    "stock_references": [],
    "instances": 0,
    "tests": {},
    "details": {},
}


def substitute(module: ModuleType) -> None:
    """Rebind the test module's MigrationAutodetector to ours, and check nothing else is left."""
    from django.db.migrations.autodetector import MigrationAutodetector

    from green_makemigrations.autodetector import GreenMigrationAutodetector

    if getattr(module, NAME) is not MigrationAutodetector:
        raise RuntimeError(f"{TEST_MODULE}.{NAME} is not Django's class: nothing to substitute")
    setattr(module, NAME, GreenMigrationAutodetector)
    report["substituted"] = getattr(module, NAME) is GreenMigrationAutodetector
    # A module-level name still bound to the stock class, or a subclass of it
    # that is not ours, would run Django's behaviour behind our back.
    report["stock_references"] = [
        name
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, MigrationAutodetector)
        and not issubclass(value, GreenMigrationAutodetector)
    ]

    original_init = GreenMigrationAutodetector.__init__

    def counting_init(self: GreenMigrationAutodetector, *args: Any, **kwargs: Any) -> None:
        report["instances"] += 1
        original_init(self, *args, **kwargs)

    GreenMigrationAutodetector.__init__ = counting_init  # type: ignore[method-assign]


class SubstitutingFinder(importlib.abc.MetaPathFinder):
    """Find the test module as usual, and substitute right after executing it."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TEST_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_substitute(module: ModuleType) -> None:
            exec_module(module)
            substitute(module)

        spec.loader.exec_module = exec_and_substitute  # type: ignore[method-assign]
        return spec


def _case_id(test: Any) -> str:
    """Return the id of a test; a failing subtest counts against its test."""
    return str(getattr(test, "test_case", test).id())


def record(result: unittest.TestResult, test_ids: list[str]) -> None:
    """Store the outcome of each test in the report."""
    tests: dict[str, str] = dict.fromkeys(test_ids, "passed")
    details: dict[str, str] = {}
    outcomes: list[tuple[str, list[tuple[Any, str]]]] = [
        ("skipped", result.skipped),
        ("expected_failure", result.expectedFailures),
        ("unexpected_success", [(test, "") for test in result.unexpectedSuccesses]),
        ("failed", result.failures),
        ("error", result.errors),
    ]
    for outcome, entries in outcomes:
        for test, text in entries:
            test_id = _case_id(test)
            tests[test_id] = outcome
            if text:
                details[test_id] = details.get(test_id, "") + text
    report["tests"] = tests
    report["details"] = details
    report["tests_run"] = result.testsRun


def patch_runner() -> None:
    """Make Django's DiscoverRunner record the results of the suite it runs."""
    from django.test.runner import DiscoverRunner
    from django.test.utils import iter_test_cases

    run_suite = DiscoverRunner.run_suite

    def recording_run_suite(self: DiscoverRunner, suite: Any, **kwargs: Any) -> Any:
        test_ids = [_case_id(test) for test in iter_test_cases(suite)]
        result = run_suite(self, suite, **kwargs)
        record(result, test_ids)
        return result

    DiscoverRunner.run_suite = recording_run_suite  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    """Run runtests.py with our autodetector; return its exit status."""
    report_path = Path(argv[1])
    runtests = Path(argv[2]).resolve()
    # Like `python runtests.py`: Django's tests directory comes first, and
    # this directory must not shadow its top-level modules.
    sys.path[0] = str(runtests.parent)
    import django

    report["django_version"] = django.__version__
    sys.meta_path.insert(0, SubstitutingFinder())
    patch_runner()
    sys.argv = [str(runtests), *argv[3:]]
    status = 0
    try:
        runpy.run_path(str(runtests), run_name="__main__")
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        report["crash"] = traceback.format_exc()
        status = 1
    finally:
        report_path.write_text(json.dumps(report, indent=1, sort_keys=True))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
