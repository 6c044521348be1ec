"""Fixtures of the command tests."""

from collections.abc import Iterator

import pytest

from .utils import drop_testapp_schema


@pytest.fixture
def empty_testapp(transactional_db: None) -> Iterator[None]:
    """Start and end without any table or applied migration of the test app.

    The test database was created with the test app unmigrated (it has no
    migrations package), so its tables exist until the first test drops them.
    """
    drop_testapp_schema()
    yield
    drop_testapp_schema()
