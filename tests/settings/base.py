"""Settings shared by every backend's test settings."""

import os
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
