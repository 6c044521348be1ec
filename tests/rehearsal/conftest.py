"""Fixtures of the deploy rehearsals: rehearsal databases on the active backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from . import harness


@pytest.fixture(scope="module")
def rehearsal_database(
    django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], dict[str, Any]]]:
    """Return a factory of empty rehearsal databases; drop them after the module.

    The databases live on the server of the active settings (``--ds``), with
    names derived from GREEN_TEST_DB_NAME; the rehearsal projects connect to
    them, the test process only creates and drops them.
    """
    directory: Path = tmp_path_factory.mktemp("rehearsal-db")
    created: list[dict[str, Any]] = []

    def create(suffix: str) -> dict[str, Any]:
        database = harness.rehearsal_database(settings.DATABASES["default"], suffix, directory)
        with django_db_blocker.unblock():
            harness.reset_database(database)
        created.append(database)
        return database

    yield create
    with django_db_blocker.unblock():
        for database in created:
            harness.reset_database(database, create=False)
