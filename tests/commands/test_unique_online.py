"""A unique constraint added to an existing table: its index is built concurrently.

On PostgreSQL AddUniqueConstraintConcurrently runs CREATE UNIQUE INDEX
CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX; elsewhere Django's
statement. The previous release of unique_app has no constraint.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from .utils import app_with_history, execute, select

APP = "unique_app"
TABLE = "unique_app_item"
NAME = "unique_item_code"
INITIAL = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("code", models.CharField(max_length=10)),
            ],
        ),
    ]
"""


@pytest.fixture
def previous_release(tmp_path: Path, transactional_db: None) -> Iterator[Path]:
    """Install the app with a migrations package holding the previous release."""
    with app_with_history(tmp_path, APP, INITIAL) as migrations:
        yield migrations


def unique_constraints() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, TABLE)
    return {
        name: info["columns"]
        for name, info in found.items()
        if info["unique"] and not info["primary_key"]
    }


def test_unique_constraint_is_added_without_a_long_lock(previous_release: Path) -> None:
    execute(f"INSERT INTO {TABLE} (code) VALUES ('a'), ('b')")
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    [written] = sorted(previous_release.glob("0002_*.py"))
    text = written.read_text()
    assert "green_makemigrations.operations.AddUniqueConstraintConcurrently(" in text
    assert "    stage = Stage.PRE_DEPLOY\n" in text
    assert "    atomic = False\n" in text

    out = call_command("sqlmigrate", APP, written.stem)
    if connection.vendor == "postgresql":
        assert f'CREATE UNIQUE INDEX CONCURRENTLY "{NAME}"' in out
        assert f'ADD CONSTRAINT "{NAME}" UNIQUE USING INDEX "{NAME}"' in out

    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert unique_constraints() == {NAME: ["code"]}
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(f"INSERT INTO {TABLE} (code) VALUES ('a')")

    call_command("migrate", APP, "0001", verbosity=0)
    assert unique_constraints() == {}


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL behaviour: only CREATE INDEX CONCURRENTLY leaves INVALID indexes",
)
def test_an_invalid_leftover_index_is_rebuilt(previous_release: Path) -> None:
    execute(f"INSERT INTO {TABLE} (code) VALUES ('a'), ('a')")
    # A failed concurrent build leaves an INVALID index behind.
    with pytest.raises(DatabaseError):
        execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{NAME}" ON {TABLE} (code)')
    assert select(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s",
        (NAME,),
    ) == [(False,)]
    execute(f"DELETE FROM {TABLE} WHERE id = (SELECT MAX(id) FROM {TABLE})")
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert unique_constraints() == {NAME: ["code"]}
    assert select("SELECT contype FROM pg_constraint WHERE conname = %s", (NAME,)) == [("u",)]
