"""Fixtures of the crash matrix: its database on the active backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.rehearsal import harness


@pytest.fixture(scope="module")
def faults_database(
    django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Return the DATABASES entry of the matrix's database; drop it after the module.

    It lives on the server of the active settings (``--ds``), named after
    GREEN_TEST_DB_NAME; the driver's subprocesses empty it and fill it.
    """
    directory: Path = tmp_path_factory.mktemp("faults-db")
    database = harness.rehearsal_database(settings.DATABASES["default"], "faults", directory)
    with django_db_blocker.unblock():
        harness.reset_database(database)
    yield database
    with django_db_blocker.unblock():
        harness.reset_database(database, create=False)


@pytest.fixture(scope="module")
def vendor() -> str:
    """Return the active backend's vendor ("postgresql", "mysql", "sqlite")."""
    return str(connection.vendor)
