"""Every kind of change on one model in one release, applied and rolled back.

The previous release of combo_app has Book(title, pages, note, code); the new
one renames title, removes pages, widens note, turns code into a bigint, adds
isbn and indexes the renamed field. The phased steps of all of them share one
table, one pre-deploy and one post-deploy migration.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from .utils import app_with_history, columns, execute, last_of_stage, select, written

APP = "combo_app"
TABLE = "combo_app_book"
INITIAL = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("title", models.CharField(max_length=50)),
                ("pages", models.IntegerField()),
                ("note", models.CharField(max_length=10)),
                ("code", models.IntegerField()),
            ],
        ),
    ]
"""


@pytest.fixture
def previous_release(
    tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    # Yes to "Was title renamed?" (asked first), the default to the rest.
    answers = iter(["y"])
    monkeypatch.setattr("builtins.input", lambda *args: next(answers, ""))
    with app_with_history(tmp_path, APP, INITIAL) as migrations:
        execute(f"INSERT INTO {TABLE} (title, pages, note, code) VALUES ('one', 1, 'n', 7)")
        yield migrations
        execute(f"DELETE FROM {TABLE}")


def test_every_change_on_one_model_phases_applies_and_rolls_back(
    previous_release: Path,
) -> None:
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    migrations = written(previous_release)
    stages = [m.stage for m in migrations]
    assert stages == sorted(stages, key=["PRE_DEPLOY", "POST_DEPLOY"].index), migrations
    pre = last_of_stage(migrations, "PRE_DEPLOY")

    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    # Release N's insert (old columns only) and release N+1's (new ones) both work.
    execute(f"INSERT INTO {TABLE} (title, pages, note, code) VALUES ('old', 2, 'o', 8)")
    execute(
        f"INSERT INTO {TABLE} (headline, note, code, isbn) VALUES ('new', %s, 9, 'x')", ("n" * 40,)
    )
    assert select(f"SELECT title, headline, code, code_retyped FROM {TABLE} ORDER BY id") == [
        ("one", "one", 7, 7),
        ("old", "old", 8, 8),
        ("new", "new", 9, 9),
    ]

    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert set(columns(TABLE)) == {"id", "headline", "note", "code", "isbn"}
    assert select(f"SELECT headline, code FROM {TABLE} ORDER BY id") == [
        ("one", 7),
        ("old", 8),
        ("new", 9),
    ]
    call_command("makemigrations", APP, check=True, dry_run=True, verbosity=0)

    execute(f"DELETE FROM {TABLE} WHERE headline = 'new'")  # its note does not fit release N
    call_command("migrate", APP, pre, verbosity=0)
    # The dropped column comes back empty (see README, Rolling back): fill it
    # before undoing the step that made it nullable.
    assert select(f"SELECT title, pages, code FROM {TABLE} ORDER BY id") == [
        ("one", None, 7),
        ("old", None, 8),
    ]
    execute(f"UPDATE {TABLE} SET pages = 0")
    call_command("migrate", APP, "0001", verbosity=0)
    assert set(columns(TABLE)) == {"id", "title", "pages", "note", "code"}
    assert select(f"SELECT title, code FROM {TABLE} ORDER BY id") == [("one", 7), ("old", 8)]
