"""Test settings: SQLite (a file, so that subprocesses can share it)."""

import os

from .base import *  # noqa: F403

_name = os.environ.get("GREEN_SQLITE_NAME", "green_makemigrations_tests.sqlite3")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _name,
        "TEST": {"NAME": os.environ.get("GREEN_TEST_DB_NAME") or f"test_{_name}"},
    }
}
