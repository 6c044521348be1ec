"""Renamed fields whose column changes: phased so that both releases keep working.

The previous release of rename_app uses Book.title, pages, author and score;
the new release calls them headline, page_count, writer and rating. The
pre-deploy migration adds the new columns, keeps them in sync with the old
ones through triggers and copies the existing values; the post-deploy one
stops the sync, drops the old columns and makes the new ones NOT NULL. Each
step is checked with the writes of both releases, in SQL, and rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from green_makemigrations.exceptions import PhasingError

from .utils import Written, app_with_history, columns, execute, select, written

APP = "rename_app"
TABLE = "rename_app_book"
INITIAL = """from django.db import migrations, models
from django.db.models.deletion import CASCADE


def pk():
    return models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Author",
            fields=[
                ("id", pk()),
                ("name", models.CharField(max_length=20)),
            ],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", pk()),
                ("title", models.CharField(max_length=50)),
                ("pages", models.IntegerField(default=0)),
                ("author", models.ForeignKey(on_delete=CASCADE, to="rename_app.author")),
                ("score", models.IntegerField(null=True)),
                ("blurb", models.CharField(max_length=20, default="")),
            ],
        ),
    ]
"""
OLD = ("title", "pages", "author_id", "score")
NEW = ("headline", "page_count", "writer_id", "rating")


@pytest.fixture
def previous_release(
    tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Install the app at release N, with two authors and two books."""
    # Answer yes to Django's "Did you rename ...?" questions.
    monkeypatch.setattr("builtins.input", lambda *args: "y")
    with app_with_history(tmp_path, APP, INITIAL) as migrations:
        execute("INSERT INTO rename_app_author (id, name) VALUES (1, 'a'), (2, 'b')")
        execute(
            f"INSERT INTO {TABLE} (title, pages, author_id, score, blurb) "
            "VALUES ('one', 10, 1, NULL, 'x'), ('two', 20, 2, 5, 'y')"
        )
        yield migrations
        execute(f"DELETE FROM {TABLE}")


def insert(names: tuple[str, ...], values: tuple[Any, ...]) -> int:
    """Insert a book as a release does: only the columns it knows (and blurb)."""
    quote = connection.ops.quote_name
    listed = ", ".join(quote(name) for name in (*names, "blurb"))
    placeholders = ", ".join(["%s"] * (len(values) + 1))
    execute(f"INSERT INTO {TABLE} ({listed}) VALUES ({placeholders})", (*values, ""))
    return int(select(f"SELECT MAX(id) FROM {TABLE}")[0][0])


def row(book_id: int, names: tuple[str, ...]) -> tuple[Any, ...]:
    listed = ", ".join(connection.ops.quote_name(name) for name in names)
    return select(f"SELECT {listed} FROM {TABLE} WHERE id = %s", (book_id,))[0]


def make_migrations(migrations: Path) -> tuple[list[Written], list[Written]]:
    """Run makemigrations; return the pre-deploy and the post-deploy migrations written."""
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    files = written(migrations)
    pre = [m for m in files if m.stage == "PRE_DEPLOY"]
    post = [m for m in files if m.stage == "POST_DEPLOY"]
    assert pre and post and files == pre + post, files
    return pre, post


def test_renamed_columns_are_synced_until_post_deploy(previous_release: Path) -> None:
    pre, post = make_migrations(previous_release)
    pre_text = "".join(m.text for m in pre)
    post_text = "".join(m.text for m in post)
    # The syncs commit batch by batch: they, and only they, run outside a
    # transaction, in a migration of their own (so does their stop).
    [sync] = [m for m in pre if not m.atomic]
    assert "sync.SyncRenamedColumns(" in sync.text
    [stop] = [m for m in post if "sync.StopSyncRenamedColumns(" in m.text]
    assert not stop.atomic and stop is post[0]
    assert pre_text.count("green_makemigrations.sync.SyncRenamedColumns(") == 4
    assert pre_text.count("migrations.RenameField(") == 1  # only summary (see below)
    assert "    stage = Stage.POST_DEPLOY\n" in post_text
    assert post_text.count("green_makemigrations.sync.StopSyncRenamedColumns(") == 4
    assert post_text.count("migrations.RemoveField(") == 4
    # summary keeps its column (db_column="blurb"): a state-only rename.
    assert "old_name='blurb'" in pre_text or 'old_name="blurb"' in pre_text

    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert set(OLD + NEW) <= set(columns(TABLE))
    one, two = (book for (book,) in select(f"SELECT id FROM {TABLE} ORDER BY id"))
    assert row(one, NEW) == ("one", 10, 1, None) and row(two, NEW) == ("two", 20, 2, 5)

    # Release N writes the old columns, release N+1 the new ones.
    old_id = insert(OLD, ("old", 30, 1, 3))
    new_id = insert(NEW, ("new", 40, 2, 4))
    assert row(old_id, NEW) == ("old", 30, 1, 3)
    assert row(new_id, OLD) == ("new", 40, 2, 4)
    execute(f"UPDATE {TABLE} SET title = 'old2', score = NULL WHERE id = %s", (new_id,))
    assert row(new_id, NEW) == ("old2", 40, 2, None)
    execute(f"UPDATE {TABLE} SET headline = 'new2', writer_id = 2 WHERE id = %s", (old_id,))
    assert row(old_id, OLD) == ("new2", 30, 2, 3)

    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert not set(OLD) & set(columns(TABLE))
    assert not columns(TABLE)["headline"].null_ok
    assert row(old_id, NEW) == ("new2", 30, 2, 3)
    assert row(new_id, NEW) == ("old2", 40, 2, None)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert(("page_count", "writer_id"), (1, 1))  # headline is NOT NULL again

    call_command("migrate", APP, "0001", verbosity=0)
    assert not set(NEW) & set(columns(TABLE))
    assert not columns(TABLE)["title"].null_ok
    assert row(one, OLD) == ("one", 10, 1, None)
    assert row(old_id, OLD) == ("new2", 30, 2, 3)
    assert row(new_id, OLD) == ("old2", 40, 2, None)
    # No trigger is left behind: release N's writes touch only its columns.
    execute(f"UPDATE {TABLE} SET title = 'plain' WHERE id = %s", (one,))
    assert row(one, OLD)[0] == "plain"


def test_rollback_of_post_deploy_restarts_the_sync(previous_release: Path) -> None:
    pre, _post = make_migrations(previous_release)
    call_command("migrate", APP, verbosity=0)
    new_id = insert(NEW, ("late", 50, 1, 6))
    call_command("migrate", APP, pre[-1].name, verbosity=0)
    # The old columns are back, filled from the new ones, and synced again.
    assert row(new_id, OLD) == ("late", 50, 1, 6)
    old_id = insert(OLD, ("again", 60, 2, 7))
    assert row(old_id, NEW) == ("again", 60, 2, 7)


def test_sqlmigrate_shows_the_triggers(previous_release: Path) -> None:
    pre, _post = make_migrations(previous_release)
    [sync] = [m.name for m in pre if "SyncRenamedColumns(" in m.text]
    sql = call_command("sqlmigrate", APP, sync)
    assert "CREATE TRIGGER" in sql
    assert "UPDATE" in sql


def test_primary_key_rename_is_refused_with_the_fix() -> None:
    from django.db import models
    from django.db.migrations.state import ModelState

    from green_makemigrations.autodetector import GreenMigrationAutodetector
    from green_makemigrations.questioner import GreenQuestioner

    from ..unit.helpers import make_project_state

    def state(pk: str) -> Any:
        return make_project_state(
            [ModelState(APP, "Tag", [(pk, models.IntegerField(primary_key=True))], {})]
        )

    questioner = GreenQuestioner(defaults={"ask_rename": True})
    with pytest.raises(PhasingError, match="db_column='code'"):
        GreenMigrationAutodetector(state("code"), state("number"), questioner)._detect_changes()
