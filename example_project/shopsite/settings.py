"""Settings of the example shop.

The database comes from the DEMO_DATABASE_URL environment variable, e.g.
``sqlite:////tmp/shop.sqlite3``, ``postgres://postgres@127.0.0.1:5432/green_demo``
or ``mysql://root@127.0.0.1:3306/green_demo``; without it, ``db.sqlite3`` here.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    # First, so that its makemigrations and migrate replace Django's.
    "green_makemigrations",
    "shop",
]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "shopsite.urls"
WSGI_APPLICATION = "shopsite.wsgi.application"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
}


def database_from_url(url: str) -> dict:
    """Return a DATABASES entry for a URL such as postgres://user@host:5432/name."""
    parts = urlsplit(url)
    engine = ENGINES[parts.scheme]
    if engine.endswith("sqlite3"):
        # sqlite:////absolute/path.sqlite3; several servers and migrate share
        # the file, so wait for locks rather than fail.
        return {"ENGINE": engine, "NAME": unquote(parts.path), "OPTIONS": {"timeout": 30}}
    database = {
        "ENGINE": engine,
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }
    if engine.endswith("mysql"):
        database["OPTIONS"] = {"charset": "utf8mb4"}
    return database


DATABASES = {
    "default": database_from_url(
        os.environ.get("DEMO_DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
