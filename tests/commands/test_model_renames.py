"""A renamed model whose table changes: a view keeps the old name until post-deploy.

The previous release of rename_model_app has Book (table rename_model_app_book,
many-to-many table rename_model_app_book_fans with column book_id); the new
release calls it Volume. Pre-deploy renames the tables and creates views under
the old names, through which the previous release reads and writes;
post-deploy drops the views.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from .utils import app_with_history, execute, select, tables

APP = "rename_model_app"
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
            fields=[("id", pk()), ("name", models.CharField(max_length=20))],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", pk()),
                ("title", models.CharField(max_length=50)),
                ("author", models.ForeignKey(on_delete=CASCADE, to="rename_model_app.author")),
                (
                    "fans",
                    models.ManyToManyField(related_name="favourites", to="rename_model_app.author"),
                ),
            ],
        ),
    ]
"""
OLD_TABLE, OLD_M2M = f"{APP}_book", f"{APP}_book_fans"
NEW_TABLE, NEW_M2M = f"{APP}_volume", f"{APP}_volume_fans"


@pytest.fixture
def previous_release(
    tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Install the app at release N with an author, a book and a fan."""
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # "Was Book renamed?"
    with app_with_history(tmp_path, APP, INITIAL) as migrations:
        execute(f"INSERT INTO {APP}_author (name) VALUES ('a')")
        [(author,)] = select(f"SELECT id FROM {APP}_author")
        execute(f"INSERT INTO {OLD_TABLE} (title, author_id) VALUES ('one', %s)", (author,))
        [(book,)] = select(f"SELECT id FROM {OLD_TABLE}")
        execute(f"INSERT INTO {OLD_M2M} (book_id, author_id) VALUES (%s, %s)", (book, author))
        yield migrations
        for table in (NEW_M2M, NEW_TABLE, OLD_M2M, OLD_TABLE):
            if table in tables():
                execute(f"DELETE FROM {table}")


def test_old_table_names_are_views_until_post_deploy(previous_release: Path) -> None:
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    pre, post = sorted(path for path in previous_release.glob("000[2-9]_*.py"))
    pre_text, post_text = pre.read_text(), post.read_text()
    # The tables are renamed and the views created in one operation (one
    # transaction on PostgreSQL): release N never misses its tables.
    assert "green_makemigrations.views.RenameModelWithViews(" in pre_text
    assert "('rename_model_app_book', None, {})" in pre_text
    assert "('rename_model_app_book_fans', 'fans', {'book_id': 'volume_id'})" in pre_text
    assert post_text.count("green_makemigrations.views.DropView(") == 2
    assert "    stage = Stage.POST_DEPLOY\n" in post_text

    # Release N's models, as its code has them.
    old_apps = MigrationLoader(None).project_state((APP, "0001_initial"), at_end=True).apps
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert {NEW_TABLE, NEW_M2M} <= tables()
    book_model = old_apps.get_model(APP, "Book")
    # Release N reads, writes, updates and deletes through the views.
    assert list(book_model.objects.values_list("title", "fans__name")) == [("one", "a")]
    book = book_model.objects.create(title="two", author_id=1)
    row = select(f"SELECT id, title FROM {NEW_TABLE} WHERE title = 'two'")
    if connection.vendor == "sqlite":
        # SQLite cannot return the key of a row inserted through a view.
        assert book.pk is None
        book = book_model.objects.get(title="two")
    assert row == [(book.pk, "two")]
    book.fans.add(1)
    assert select(f"SELECT volume_id, author_id FROM {NEW_M2M} ORDER BY id") == [
        (1, 1),
        (book.pk, 1),
    ]
    book_model.objects.filter(pk=book.pk).update(title="deux")
    assert select(f"SELECT title FROM {NEW_TABLE} WHERE id = %s", (book.pk,)) == [("deux",)]
    book.fans.clear()
    # Release N+1 writes the new table; release N sees the row.
    execute(f"INSERT INTO {NEW_TABLE} (title, author_id) VALUES ('three', 1)")
    assert book_model.objects.filter(title="three").count() == 1

    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    names = tables()
    assert OLD_TABLE not in names and OLD_M2M not in names
    assert {NEW_TABLE, NEW_M2M} <= names

    call_command("migrate", APP, "0001", verbosity=0)
    names = tables()
    assert NEW_TABLE not in names and NEW_M2M not in names
    assert select(f"SELECT title FROM {OLD_TABLE} ORDER BY id") == [
        ("one",),
        ("deux",),
        ("three",),
    ]
    assert select(f"SELECT book_id, author_id FROM {OLD_M2M}") == [(1, 1)]


@pytest.mark.skipif(
    connection.vendor == "mysql",
    reason="Django's own RenameModel introspects the not yet renamed many-to-many "
    "table under sqlmigrate on MySQL, whatever the autodetector",
)
def test_sqlmigrate_shows_the_views(previous_release: Path) -> None:
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    pre = sorted(path.stem for path in previous_release.glob("000[2-9]_*.py"))[0]
    sql = call_command("sqlmigrate", APP, pre)
    assert "CREATE VIEW" in sql


def test_a_re_run_after_the_rename_finishes_the_views(previous_release: Path) -> None:
    """A run that stopped after the rename is finished by the next one.

    MariaDB cannot roll DDL back, and on PostgreSQL a non-atomic migration
    (one with concurrent index builds or backfills) keeps what it did.
    """
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    pre = sorted(path.stem for path in previous_release.glob("000[2-9]_*.py"))[0]
    execute(f"DROP VIEW {OLD_M2M}")
    execute(f"DROP VIEW {OLD_TABLE}")
    MigrationRecorder(connection).migration_qs.filter(app=APP, name=pre).delete()
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert select(f"SELECT title FROM {OLD_TABLE}") == [("one",)]
