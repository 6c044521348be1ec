"""Test settings: SQLite (a file, so that subprocesses can share it)."""

import os

from .base import *  # noqa: F403
from .base import other_database

_name = os.environ.get("GREEN_SQLITE_NAME", "green_makemigrations_tests.sqlite3")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _name,
        "TEST": {
            "NAME": (
                f"{os.environ['GREEN_TEST_DB_NAME']}.sqlite3"
                if os.environ.get("GREEN_TEST_DB_NAME")
                else f"test_{_name}"
            )
        },
    }
}
DATABASES["other"] = other_database(DATABASES["default"])
