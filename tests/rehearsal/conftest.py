"""Fixtures of the deploy rehearsals: rehearsal databases on the active backend.

The rehearsal modules are the suite's slowest (each starts the two releases'
processes many times), so ``./runtests``, when it runs all three Django
versions, shares them (tests/subset.py): each module in SHARED_MODULES runs on
every backend under the one Django version it is given, the others under all
three. Unset GREEN_SHARE (one Django version, a plain pytest run) runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from ..subset import deselect, share
from . import harness

# Module -> index of the Django version (0: 5.2, 1: 6.0, 2: 6.1) that runs it
# under a shared run; balanced by their run times (PostgreSQL, in seconds:
# changes 100, separate_runs 75, model_gaps 55, multidb 45, squash 45, fields 30;
# online runs on SQLite only). test_rehearsal.py (the main pair, the stock
# control and the locks) and test_rehearsal_verdicts.py (which shares its own
# scenarios) run under all.
SHARED_MODULES = {
    "test_rehearsal_changes": 0,
    "test_rehearsal_fields": 0,
    "test_rehearsal_separate_runs": 1,
    "test_rehearsal_multidb": 1,
    "test_rehearsal_online": 1,
    "test_rehearsal_model_gaps": 2,
    "test_rehearsal_squash": 2,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the shared rehearsal modules another Django version of the run plays."""
    shared = share()
    if shared is None:
        return
    k, _n = shared

    def elsewhere(item: pytest.Item) -> bool:
        if item.path.parent != Path(__file__).parent:
            return False
        owner = SHARED_MODULES.get(item.path.stem)
        return owner is not None and owner != k

    deselect(config, items, elsewhere)


@pytest.fixture(scope="module")
def rehearsal_database(
    django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., dict[str, Any]]]:
    """Return a factory of empty rehearsal databases; drop them after the module.

    The databases live on the server of the active settings (``--ds``), with
    names derived from GREEN_TEST_DB_NAME; the rehearsal projects connect to
    them, the test process only creates and drops them. The factory's alias
    says which database of the settings gives the server (the backend).
    """
    directory: Path = tmp_path_factory.mktemp("rehearsal-db")
    created: list[dict[str, Any]] = []

    def create(suffix: str, alias: str = "default") -> dict[str, Any]:
        database = harness.rehearsal_database(settings.DATABASES[alias], suffix, directory)
        with django_db_blocker.unblock():
            harness.reset_database(database)
        created.append(database)
        return database

    yield create
    with django_db_blocker.unblock():
        for database in created:
            harness.reset_database(database, create=False)
