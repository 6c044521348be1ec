"""Test settings: PostgreSQL, from GREEN_POSTGRES_URL (default: the local service)."""

import os

from .base import *  # noqa: F403
from .base import database_from_url, other_database

DATABASES = {
    "default": database_from_url(
        os.environ.get(
            "GREEN_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/green_makemigrations"
        )
    )
}
DATABASES["other"] = other_database(DATABASES["default"])
