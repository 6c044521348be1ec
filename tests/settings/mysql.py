"""Test settings: MariaDB / MySQL, from GREEN_MYSQL_URL (default: the local service)."""

import os

from .base import *  # noqa: F403
from .base import database_from_url, other_database

DATABASES = {
    "default": database_from_url(
        os.environ.get("GREEN_MYSQL_URL", "mysql://root@127.0.0.1:3306/green_makemigrations")
    )
}
DATABASES["other"] = other_database(DATABASES["default"])
