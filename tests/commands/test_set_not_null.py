"""Making a column NOT NULL: post-deploy, NULLs filled in batches, then SET NOT NULL.

The app's previous release has ``code`` nullable; the new one (notnull_app.models)
has it NOT NULL with a default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import (
    CaptureQueriesContext,
)

from .utils import app_with_history, columns, execute, select

APP = "notnull_app"
TABLE = "notnull_app_item"
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
                ("code", models.CharField(max_length=10, null=True)),
            ],
        ),
    ]
"""


@pytest.fixture
def previous_release(tmp_path: Path, transactional_db: None) -> Iterator[Path]:
    """Install the app with a migrations package holding the previous release."""
    with app_with_history(tmp_path, APP, INITIAL) as migrations:
        yield migrations


def app_applied() -> set[str]:
    return {name for app, name in select("SELECT app, name FROM django_migrations") if app == APP}


def test_not_null_is_post_deploy_and_backfills_in_batches(previous_release: Path) -> None:
    # The previous release wrote NULLs, more than one batch of them.
    execute(
        f"INSERT INTO {TABLE} (code) VALUES " + ", ".join(["(NULL)"] * 2400 + ["('kept')"] * 100)
    )
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    [written] = sorted(p for p in previous_release.glob("0002_*.py"))
    text = written.read_text()
    assert "green_makemigrations.operations.SetNotNull(" in text
    assert "    stage = Stage.POST_DEPLOY\n" in text
    assert "    atomic = False\n" in text

    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert app_applied() == {"0001_initial"}
    # The previous release may still write NULL.
    execute(f"INSERT INTO {TABLE} (code) VALUES (NULL)")
    assert columns(TABLE)["code"].null_ok

    with CaptureQueriesContext(connection) as queries:
        call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert app_applied() == {"0001_initial", written.stem}
    statements = [query["sql"] for query in queries.captured_queries]
    # 2,501 rows in batches of 1,000 keys: three UPDATEs, each committed on its own
    # (Django's AlterField then runs its own, unbatched one: no NULL left).
    batches = [sql for sql in statements if sql.startswith("UPDATE") and " <= " in sql]
    assert len(batches) == 3
    if connection.vendor == "postgresql":
        assert any(sql.endswith("IS NOT NULL) NOT VALID") for sql in statements)
        assert any("VALIDATE CONSTRAINT" in sql for sql in statements)
    assert select(f"SELECT code, COUNT(*) FROM {TABLE} GROUP BY code ORDER BY code") == [
        ("kept", 100),
        ("none", 2401),
    ]
    assert not columns(TABLE)["code"].null_ok
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(f"INSERT INTO {TABLE} (code) VALUES (NULL)")
    with connection.cursor() as cursor:
        names = connection.introspection.get_constraints(cursor, TABLE)
    assert not [name for name in names if name.endswith("_not_null_tmp")]

    # Rolling back makes the column nullable again; the filled values stay.
    call_command("migrate", APP, "0001", verbosity=0)
    assert columns(TABLE)["code"].null_ok
    assert select(f"SELECT COUNT(*) FROM {TABLE} WHERE code IS NULL") == [(0,)]


def test_a_rerun_after_a_failed_set_not_null_finishes(previous_release: Path) -> None:
    """The backfill commits batch by batch; a re-run picks up where it stopped."""
    execute(f"INSERT INTO {TABLE} (code) VALUES " + ", ".join(["(NULL)"] * 1500))
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    # Half of the work done by an earlier, interrupted run.
    execute(f"UPDATE {TABLE} SET code = 'none' WHERE id <= 700")
    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert select(f"SELECT COUNT(*) FROM {TABLE} WHERE code = 'none'") == [(1500,)]
    assert not columns(TABLE)["code"].null_ok
    assert "0001_initial" in app_applied() and len(app_applied()) == 2
