"""Type changes: widenings in place, integer to bigint as an expand/contract.

The previous release of retype_app has Meter.reading as an IntegerField,
label as CharField(max_length=10) and price as DecimalField(5, 2); the new
release widens all three. label and price change in place in pre-deploy
(PostgreSQL changes these types without rewriting the table). reading gets a
bigint column kept in sync by triggers in pre-deploy, which replaces it in
post-deploy.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DataError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder

from .utils import app_with_history, columns, execute, select, written

APP = "retype_app"
TABLE = "retype_app_meter"
INITIAL = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Meter",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reading", models.IntegerField()),
                ("label", models.CharField(max_length=10)),
                ("price", models.DecimalField(max_digits=5, decimal_places=2)),
            ],
        ),
    ]
"""


@pytest.fixture
def previous_release(tmp_path: Path, transactional_db: None) -> Iterator[Path]:
    """Install the app at release N with two meters."""
    with app_with_history(tmp_path, APP, INITIAL) as migrations:
        execute(
            f"INSERT INTO {TABLE} (reading, label, price) VALUES (1, 'a', 1.50), (2, 'b', 2.50)"
        )
        yield migrations
        execute(f"DELETE FROM {TABLE}")


def field_type(column: str) -> str:
    """Return the Django field type introspection gives a column of the table."""
    info = columns(TABLE)[column]
    return str(connection.introspection.get_field_type(info.type_code, info))


def readings() -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in select(f"SELECT reading, reading_retyped FROM {TABLE}")]


def test_integer_to_bigint_is_an_expand_contract(previous_release: Path) -> None:
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    migrations = written(previous_release)
    assert [m.stage for m in migrations] == ["PRE_DEPLOY", "PRE_DEPLOY", "POST_DEPLOY"]
    # The new column and the in-place changes in one transaction; the sync,
    # which commits batch by batch, and the swap outside one.
    assert [m.atomic for m in migrations] == [True, False, False]
    pre_text = migrations[0].text + migrations[1].text
    post_text = migrations[2].text
    assert "    stage = Stage.PRE_DEPLOY\n" in pre_text
    assert "name='reading_retyped'" in pre_text
    assert "green_makemigrations.sync.SyncRetypedColumn(" in pre_text
    assert pre_text.count("migrations.AlterField(") == 2  # label and price, in place
    assert "    stage = Stage.POST_DEPLOY\n" in post_text
    assert "green_makemigrations.sync.ReplaceColumn(" in post_text
    assert "green_makemigrations.operations.SetNotNull(" in post_text

    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert field_type("reading") == "IntegerField"
    assert field_type("reading_retyped") == "BigIntegerField"
    assert sorted(readings()) == [(1, 1), (2, 2)]
    # Both releases write reading; the bigint column follows.
    execute(f"INSERT INTO {TABLE} (reading, label, price) VALUES (3, 'c', 3.50)")
    execute(f"UPDATE {TABLE} SET reading = 20 WHERE reading = 2")
    assert sorted(readings()) == [(1, 1), (3, 3), (20, 20)]

    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert "reading_retyped" not in columns(TABLE)
    assert field_type("reading") == "BigIntegerField"
    assert not columns(TABLE)["reading"].null_ok
    assert sorted(r for (r,) in select(f"SELECT reading FROM {TABLE}")) == [1, 3, 20]
    execute(f"INSERT INTO {TABLE} (reading, label, price) VALUES (%s, 'big', 1)", (2**40,))

    execute(f"DELETE FROM {TABLE} WHERE reading = %s", (2**40,))
    call_command("migrate", APP, "0001", verbosity=0)
    assert "reading_retyped" not in columns(TABLE)
    assert field_type("reading") == "IntegerField"
    assert not columns(TABLE)["reading"].null_ok
    assert sorted(r for (r,) in select(f"SELECT reading FROM {TABLE}")) == [1, 3, 20]


def test_widened_text_and_decimal_change_in_place(previous_release: Path) -> None:
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    execute(
        f"INSERT INTO {TABLE} (reading, label, price) VALUES (5, %s, %s)", ("x" * 30, "123456.78")
    )
    [(label, price)] = select(f"SELECT label, price FROM {TABLE} WHERE reading = 5")
    assert (label, Decimal(str(price))) == ("x" * 30, Decimal("123456.78"))
    if connection.vendor != "sqlite":  # SQLite does not enforce lengths
        with pytest.raises(DataError), transaction.atomic():
            execute(f"INSERT INTO {TABLE} (reading, label, price) VALUES (6, %s, 1)", ("x" * 31,))


def test_post_deploy_recorded_as_unapplied_re_runs(previous_release: Path) -> None:
    """A re-run of the swap after it happened (MariaDB cannot roll DDL back) finishes."""
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    post = sorted(previous_release.glob("000[2-9]_*.py"))[-1].stem
    call_command("migrate", APP, verbosity=0)
    MigrationRecorder(connection).migration_qs.filter(app=APP, name=post).delete()
    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert field_type("reading") == "BigIntegerField"
    assert sorted(r for (r,) in select(f"SELECT reading FROM {TABLE}")) == [1, 2]


def test_sqlmigrate_shows_both_stages(previous_release: Path) -> None:
    call_command("makemigrations", APP, interactive=False, verbosity=0)
    _add, sync, post = (m.name for m in written(previous_release))
    pre_sql = call_command("sqlmigrate", APP, sync)
    post_sql = call_command("sqlmigrate", APP, post)
    assert "CREATE TRIGGER" in pre_sql and "reading_retyped" in pre_sql
    assert "DROP TRIGGER" in post_sql
    assert "reading_retyped" in post_sql  # renamed to reading
