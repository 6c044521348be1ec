"""Collection rules for the whole suite: test modules that need no database backend.

Some modules test pure decisions (the autodetector, plans, rules, the writer)
or run Django's autodetector suite on its own SQLite settings: their outcome is
the same whatever backend the settings name. ``./runtests``, when its run
includes SQLite, sets GREEN_BACKEND_FREE=elsewhere for the PostgreSQL and
MariaDB runs, which then leave those tests to the SQLite run of the same Django
version. Unset (a plain pytest run), everything runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .subset import deselect

TESTS = Path(__file__).parent

# Directories or modules whose tests need no backend, and the exceptions: a
# test marked django_db is never backend-free.
BACKEND_FREE = ("unit", "docs", "django_suite/test_django_autodetector_suite.py")
BACKEND_DEPENDENT = ("unit/test_identifiers.py", "unit/test_layout.py")


def is_backend_free(item: pytest.Item) -> bool:
    """Return whether item's outcome cannot depend on the database backend."""
    try:
        path = item.path.relative_to(TESTS).as_posix()
    except ValueError:
        return False

    def under(prefixes: tuple[str, ...]) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)

    return (
        under(BACKEND_FREE)
        and not under(BACKEND_DEPENDENT)
        and item.get_closest_marker("django_db") is None
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the backend-free tests to the SQLite run when runtests asks for it."""
    if os.environ.get("GREEN_BACKEND_FREE") != "elsewhere":
        return
    deselect(config, items, is_backend_free)
