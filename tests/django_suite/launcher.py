"""Run Django's migration tests with this package's classes in their namespace.

Usage (what the pytest wrappers run in a subprocess)::

    python launcher.py REPORT.json DJANGO/tests/runtests.py [runtests arguments...]

An import hook rebinds, as soon as Django's test runner imports one of the
modules in SUBSTITUTIONS, each of its listed names to our class:

- ``migrations.test_autodetector``: ``MigrationAutodetector`` becomes
  ``GreenMigrationAutodetector``;
- ``migrations.test_commands``: ``MigrationAutodetector``,
  ``MakeMigrationsCommand`` and ``MigrateCommand`` become ours, and
  ``call_command("makemigrations")`` / ``call_command("migrate")`` /
  ``call_command("squashmigrations")`` load this package's commands
  (``get_commands()`` names this package for the three).

Then Django's own ``runtests.py`` runs as ``__main__``. The outcome of every
test is written to REPORT.json, with proof that the substitution happened:
the names rebound, and how many times our classes were used (autodetector
instances created, command ``handle()`` calls).
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import json
import runpy
import sys
import traceback
import unittest
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

AUTODETECTOR = (
    "django.db.migrations.autodetector.MigrationAutodetector",
    "green_makemigrations.autodetector.GreenMigrationAutodetector",
)
MAKEMIGRATIONS = (
    "django.core.management.commands.makemigrations.Command",
    "green_makemigrations.management.commands.makemigrations.Command",
)
MIGRATE = (
    "django.core.management.commands.migrate.Command",
    "green_makemigrations.management.commands.migrate.Command",
)
# Test module -> {name in it: (Django's class, ours)}.
SUBSTITUTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "migrations.test_autodetector": {"MigrationAutodetector": AUTODETECTOR},
    "migrations.test_commands": {
        "MigrationAutodetector": AUTODETECTOR,
        "MakeMigrationsCommand": MAKEMIGRATIONS,
        "MigrateCommand": MIGRATE,
    },
}
# Commands that call_command() and manage.py load from this package instead.
COMMANDS = {
    "makemigrations": "green_makemigrations",
    "migrate": "green_makemigrations",
    "squashmigrations": "green_makemigrations",
}

report: dict[str, Any] = {
    "substituted": {},
    "stock_references": {},
    "instances": {},
    "tests": {},
    "details": {},
}


def import_object(path: str) -> Any:
    """Return the object at a dotted path."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def count_calls(cls: type, method: str) -> None:
    """Count the calls of cls.method in report["instances"] under cls's dotted path."""
    key = f"{cls.__module__}.{cls.__qualname__}"
    if key in report["instances"]:
        return
    report["instances"][key] = 0
    original = getattr(cls, method)

    @functools.wraps(original)
    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        report["instances"][key] += 1
        return original(self, *args, **kwargs)

    setattr(cls, method, counting)


def load_our_commands() -> None:
    """Make Django's command registry name this package for its three migration commands."""
    from django.core import management

    stock: Callable[[], dict[str, str]] = management.get_commands

    def get_commands() -> dict[str, str]:
        return {**stock(), **COMMANDS}

    # Django clears the cache when INSTALLED_APPS changes (override_settings).
    get_commands.cache_clear = stock.cache_clear  # type: ignore[attr-defined]
    management.get_commands = get_commands
    # Our system checks (E001: the commands are ours) imported it by name.
    from green_makemigrations import checks

    checks.get_commands = get_commands


def substitute(module: ModuleType) -> None:
    """Rebind the test module's names to our classes, and check nothing stock is left."""
    rebound = []
    for name, (stock_path, ours_path) in SUBSTITUTIONS[module.__name__].items():
        stock, ours = import_object(stock_path), import_object(ours_path)
        if getattr(module, name) is not stock:
            raise RuntimeError(
                f"{module.__name__}.{name} is not {stock_path}: nothing to substitute"
            )
        setattr(module, name, ours)
        count_calls(ours, "__init__" if ours_path == AUTODETECTOR[1] else "handle")
        if getattr(module, name) is ours:
            rebound.append(name)
        # A module-level name still bound to the stock class, or a subclass of
        # it that is not ours, would run Django's behaviour behind our back.
        report["stock_references"].setdefault(module.__name__, []).extend(
            other
            for other, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, stock) and not issubclass(value, ours)
        )
    report["substituted"][module.__name__] = rebound
    if module.__name__ == "migrations.test_commands":
        load_our_commands()


class SubstitutingFinder(importlib.abc.MetaPathFinder):
    """Find the test module as usual, and substitute right after executing it."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in SUBSTITUTIONS:
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
        from django.db import connection

        report["vendor"] = connection.vendor
        test_ids = [_case_id(test) for test in iter_test_cases(suite)]
        result = run_suite(self, suite, **kwargs)
        record(result, test_ids)
        return result

    DiscoverRunner.run_suite = recording_run_suite  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    """Run runtests.py with our classes; return its exit status."""
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
