"""The router of the test settings: each app of MULTIDB_ROUTES on its database, the rest on default.

``MULTIDB_ROUTES`` (a setting the multi-database tests override) maps app
labels to database aliases. Without it every app stays on ``default`` and
the ``other`` database holds no table but ``django_migrations``, so the
other tests' databases are what they were without a router.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS


def database_of(app_label: str) -> str:
    """Return the alias of the database that holds app_label's tables."""
    routes: dict[str, str] = getattr(settings, "MULTIDB_ROUTES", {})
    return routes.get(app_label, DEFAULT_DB_ALIAS)


class AppRouter:
    """Send the queries and the migrations of each app to its database."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        label = model._meta.app_label
        return database_of(label) if label in getattr(settings, "MULTIDB_ROUTES", {}) else None

    db_for_write = db_for_read

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        return db == database_of(app_label)
