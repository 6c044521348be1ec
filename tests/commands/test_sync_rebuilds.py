"""SQLite: a rebuild of a table keeps the sync triggers (sync.py) of its other columns.

Django alters a column on SQLite by rebuilding the table, and the triggers on
it go with the old table. A migration rolling back several type or db_column
changes re-creates each column's sync, then the next operation rebuilds the
table: mirror.rebuilds_keep_mirrors (around every migration) creates the
triggers again for the columns the new table still has, so the running
release's writes keep reaching both columns (found by the crash matrix's
db_column scenario). The cases are the rebuilds of a table with a synced pair
of columns: another column altered, a synced column renamed, or removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps.registry import Apps
from django.db import connection, models

from green_makemigrations import mirror
from green_makemigrations.sync import _ColumnSync

from .utils import execute, select

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's table rebuilds"),
]
TABLE = "sync_rebuilt"


def model_class(**fields: Any) -> type[models.Model]:
    """Return a model of TABLE with fields, in a registry of its own."""
    meta = type("Meta", (), {"apps": Apps(), "app_label": "sync_rebuilds", "db_table": TABLE})
    attrs = {"__module__": __name__, "Meta": meta, **fields}
    return type("Rebuilt", (models.Model,), attrs)


def fields() -> dict[str, models.Field[Any, Any]]:
    return {
        "old": models.IntegerField(null=True),
        "new": models.BigIntegerField(null=True),
        "other": models.IntegerField(null=True),
    }


@pytest.fixture
def synced() -> Iterator[type[models.Model]]:
    """Create TABLE with old synced into new; drop it after."""
    model = model_class(**fields())
    with connection.schema_editor() as editor:
        editor.create_model(model)
        _ColumnSync(editor, model, "old", "new").create()
    yield model
    execute(f'DROP TABLE IF EXISTS "{TABLE}"')


def triggers() -> set[str]:
    return {row[0] for row in select("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def rebuild(model: type[models.Model], change: str) -> None:
    """Rebuild TABLE through Django's schema editor, mirrors kept as the executor does."""
    before = model._meta.get_field({"other": "other", "rename": "new", "remove": "new"}[change])
    with mirror.rebuilds_keep_mirrors(connection), connection.schema_editor() as editor:
        if change == "remove":
            # A column other triggers name: Django rebuilds the table.
            editor._remake_table(model, delete_field=before)  # type: ignore[attr-defined]
            return
        after = models.IntegerField(null=False, default=0) if change == "other" else None
        if after is None:
            after = models.BigIntegerField(null=False, default=0, db_column="renamed")
        after.set_attributes_from_name(before.name)
        editor._remake_table(model, alter_fields=[(before, after)])  # type: ignore[attr-defined]


def test_another_column_altered_keeps_the_sync(synced: type[models.Model]) -> None:
    names = triggers()
    assert names
    rebuild(synced, "other")
    assert triggers() == names
    execute(f'INSERT INTO "{TABLE}" ("old", "other") VALUES (7, 1)')
    execute(f'UPDATE "{TABLE}" SET "new" = 9 WHERE "old" = 7')
    assert select(f'SELECT "old", "new" FROM "{TABLE}"') == [(9, 9)]


def test_synced_column_renamed_is_renamed_in_the_sync(synced: type[models.Model]) -> None:
    names = triggers()
    rebuild(synced, "rename")
    assert triggers() == names
    execute(f'INSERT INTO "{TABLE}" ("old", "renamed") VALUES (7, 8)')
    execute(f'UPDATE "{TABLE}" SET "old" = 5')
    assert select(f'SELECT "old", "renamed" FROM "{TABLE}"') == [(5, 5)]


def test_synced_column_removed_drops_the_sync(synced: type[models.Model]) -> None:
    rebuild(synced, "remove")
    assert triggers() == set()
    execute(f'INSERT INTO "{TABLE}" ("old", "other") VALUES (7, 1)')
    assert select(f'SELECT "old", "other" FROM "{TABLE}"') == [(7, 1)]
