"""otherapp's autodetector: a mixin on Django's, composed with type() as django-pgtrigger does."""

from __future__ import annotations

from typing import Any

from django.db.migrations import Migration
from django.db.migrations.autodetector import MigrationAutodetector

from otherapp import RECORD


class OtherAutodetectorMixin:
    """Note every migration the autodetector returns."""

    def changes(self, *args: Any, **kwargs: Any) -> dict[str, list[Migration]]:
        changes: dict[str, list[Migration]] = super().changes(*args, **kwargs)  # type: ignore[misc]
        for app_label, migrations in changes.items():
            RECORD.extend(f"detected {app_label}.{m.name}" for m in migrations)
        return changes


OtherAutodetector = type("OtherAutodetector", (OtherAutodetectorMixin, MigrationAutodetector), {})
