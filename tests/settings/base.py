"""Settings shared by every backend's test settings."""

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

SECRET_KEY = "green_makemigrations-tests"
INSTALLED_APPS = [
    "green_makemigrations",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "tests.testapp",
]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# The multi-database tests (tests/multidb/) route apps to the "other" alias
# (other_database()); every app they do not name stays on "default".
DATABASE_ROUTERS = ["tests.multidb.routers.AppRouter"]

ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
}


def database_from_url(url: str) -> dict[str, object]:
    """Return a DATABASES entry for a URL such as postgres://user@host:5432/name."""
    parts = urlsplit(url)
    test: dict[str, object] = {"NAME": os.environ.get("GREEN_TEST_DB_NAME") or None}
    database: dict[str, object] = {
        "ENGINE": ENGINES[parts.scheme],
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Each test run gets its own test database name, so parallel runs of
        # different Django versions against one server do not collide.
        "TEST": test,
    }
    if database["ENGINE"] == "django.db.backends.mysql":
        database["OPTIONS"] = {"charset": "utf8mb4"}
        test.update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"})
    return database


def other_database(default: Mapping[str, Any]) -> dict[str, Any]:
    """Return the DATABASES entry of the "other" alias, the multi-database tests' second database.

    GREEN_OTHER_URL names it: a postgres:// or mysql:// URL, or sqlite:
    (a file beside GREEN_SQLITE_NAME). Without it, MariaDB (GREEN_MYSQL_URL)
    beside a PostgreSQL default, so that the two server backends meet in
    one run, and SQLite beside any other. Its test database is the
    default's name with "_other" appended; the test runner creates it only
    for the tests that use the alias.
    """
    url = os.environ.get("GREEN_OTHER_URL") or (
        os.environ.get("GREEN_MYSQL_URL", "mysql://root@127.0.0.1:3306/green_makemigrations")
        if default["ENGINE"] == ENGINES["postgresql"]
        else "sqlite:"
    )
    base = os.environ.get("GREEN_TEST_DB_NAME") or "test_green_makemigrations"
    if url.startswith("sqlite:"):
        sqlite_name = os.environ.get("GREEN_SQLITE_NAME", "green_makemigrations_tests.sqlite3")
        directory = os.path.dirname(sqlite_name)
        test_name = os.path.join(directory, f"{os.path.basename(base)}_other.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": f"{sqlite_name}.other",
            # Created without "default" when a test asks for "other" alone.
            "TEST": {"NAME": test_name, "DEPENDENCIES": []},
        }
    database = database_from_url(url)
    test = database["TEST"]
    assert isinstance(test, dict)
    test.update({"NAME": f"{base}_other", "DEPENDENCIES": []})
    return database
