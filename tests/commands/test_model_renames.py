"""A renamed model whose table changes: a view keeps the old name until post-deploy.

The previous release of rename_model_app has Book (table rename_model_app_book,
many-to-many table rename_model_app_book_fans with column book_id); the new
release calls it Volume. Pre-deploy renames the tables and creates views under
the old names, through which the previous release reads and writes;
post-deploy drops the views.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext

from green_makemigrations.mirror import TRIGGER_SUFFIXES, trigger_name

from .utils import app_with_history, execute, select, tables

APP = "rename_model_app"
INITIAL = """import django.db.models.functions.text
from django.db import migrations, models
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
                (
                    "title_length",
                    models.GeneratedField(
                        db_persist=True,
                        expression=django.db.models.functions.text.Length("title"),
                        output_field=models.IntegerField(),
                    ),
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
    if connection.vendor == "sqlite":
        # A mirror table kept in sync by triggers stands in for each view.
        assert f'CREATE TABLE "{OLD_TABLE}" (' in sql
        assert f'CREATE TABLE "{OLD_M2M}" (' in sql
        assert sql.count("CREATE TRIGGER") == 12
    else:
        assert sql.count("CREATE VIEW") == 2


def test_a_re_run_after_the_rename_finishes_the_views(previous_release: Path) -> None:
    """A run that stopped after the rename is finished by the next one.

    MariaDB cannot roll DDL back, and on PostgreSQL a non-atomic migration
    (one with concurrent index builds or backfills) keeps what it did.
    """
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    pre = sorted(path.stem for path in previous_release.glob("000[2-9]_*.py"))[0]
    drop_stand_in(OLD_M2M)
    drop_stand_in(OLD_TABLE)
    MigrationRecorder(connection).migration_qs.filter(app=APP, name=pre).delete()
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert select(f"SELECT title FROM {OLD_TABLE}") == [("one",)]


def drop_stand_in(name: str) -> None:
    """Drop the view under an old table name (on SQLite, the mirror and its triggers)."""
    if connection.vendor != "sqlite":
        execute(f"DROP VIEW {name}")
        return
    for suffix in TRIGGER_SUFFIXES:
        execute(f'DROP TRIGGER "{trigger_name(name, "from", suffix)}"')
    execute(f"DROP TABLE {name}")


def triggers() -> set[str]:
    """Return the names of the SQLite database's triggers."""
    return {name for (name,) in select("SELECT name FROM sqlite_master WHERE type = 'trigger'")}


def test_release_n_saves_updates_and_deletes_under_the_old_names(previous_release: Path) -> None:
    """Release N's ORM writes keep Django's semantics with both releases running.

    Model.save() of an existing row updates it (SQLite once reported no
    changed row through a view, and save() tried an INSERT), inserts return
    their key, ignored duplicates leave nothing behind, and each release sees
    the other's inserts, updates and deletes at once.
    """
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    old_apps = MigrationLoader(None).project_state((APP, "0001_initial"), at_end=True).apps
    book_model = old_apps.get_model(APP, "Book")
    gone = book_model.objects.create(title="gone", author_id=1).pk
    book_model.objects.filter(pk=gone).delete()
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    fans = book_model._meta.get_field("fans").remote_field.through

    book = book_model.objects.get(title="one")
    book.title = "uno"
    book.save()
    assert select(f"SELECT id, title FROM {NEW_TABLE}") == [(book.pk, "uno")]
    assert book_model.objects.filter(pk=book.pk).update(title="un") == 1

    # Keys are never reused: not one of a row deleted before the deploy, nor
    # one release N+1 just took.
    created = book_model.objects.create(title="two", author_id=1)
    assert created.pk > gone
    # A generated column is computed under the old name at once.
    assert book_model.objects.get(pk=created.pk).title_length == 3
    execute(f"INSERT INTO {NEW_TABLE} (title, author_id) VALUES ('new', 1)")
    [(newest,)] = select(f"SELECT id FROM {NEW_TABLE} WHERE title = 'new'")
    assert newest > created.pk
    assert select(f"SELECT title FROM {NEW_TABLE} WHERE id = %s", (created.pk,)) == [("two",)]
    created.title = "deux"
    created.save()
    assert book_model.objects.get(pk=created.pk).title_length == 4
    assert select(f"SELECT title FROM {NEW_TABLE} WHERE id = %s", (created.pk,)) == [("deux",)]

    # An ignored duplicate of a many-to-many row leaves no row under either name.
    fans.objects.bulk_create(
        [fans(book_id=book.pk, author_id=1), fans(book_id=created.pk, author_id=1)],
        ignore_conflicts=True,
    )
    expected = [(book.pk, 1), (created.pk, 1)]
    assert select(f"SELECT volume_id, author_id FROM {NEW_M2M} ORDER BY id") == expected
    assert list(fans.objects.order_by("id").values_list("book_id", "author_id")) == expected

    # Each release sees the other's updates and deletes.
    execute(f"UPDATE {NEW_TABLE} SET title = 'newer' WHERE id = %s", (newest,))
    assert book_model.objects.get(pk=newest).title == "newer"
    execute(f"DELETE FROM {NEW_TABLE} WHERE id = %s", (newest,))
    assert not book_model.objects.filter(pk=newest).exists()
    fans.objects.filter(book_id=created.pk).delete()
    created.delete()
    assert select(f"SELECT id FROM {NEW_TABLE} ORDER BY id") == [(book.pk,)]
    assert select(f"SELECT volume_id FROM {NEW_M2M}") == [(book.pk,)]
    assert list(book_model.objects.values_list("title", flat=True)) == ["un"]

    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert not {OLD_TABLE, OLD_M2M} & tables()
    if connection.vendor == "sqlite":
        assert not triggers()
    # Rolling post-deploy back brings the old names back with the rows of today.
    call_command("migrate", APP, "0002", verbosity=0)
    assert list(book_model.objects.values_list("title", flat=True)) == ["un"]
    assert list(fans.objects.values_list("book_id", flat=True)) == [book.pk]


@pytest.mark.skipif(
    connection.vendor != "mysql", reason="the swap of tables for views is MariaDB/MySQL's"
)
def test_mariadb_swaps_each_table_for_its_view_and_keeps_foreign_keys_in_place(
    previous_release: Path,
) -> None:
    """No statement leaves release N without its tables or its columns; no table is copied.

    MariaDB cannot roll DDL back: each table goes to its new name in the
    same ``RENAME TABLE`` that gives its old name to a view, and the
    many-to-many table's book_id column, which that view names, is not
    renamed (the view would be invalid until replaced) but gets volume_id
    beside it, kept equal by triggers and indexed online. The foreign keys
    Django drops and adds back are added with ``foreign_key_checks`` off, in
    place (with checks on, MariaDB copies the table to add one).
    """
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    with CaptureQueriesContext(connection) as captured:
        call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    statements = [query["sql"] for query in captured.captured_queries]
    for old, new in ((OLD_TABLE, NEW_TABLE), (OLD_M2M, NEW_M2M)):
        swaps = [
            sql
            for sql in statements
            if sql.startswith("RENAME TABLE") and f"`{old}` TO `{new}`" in sql
        ]
        assert len(swaps) == 1, statements
        assert swaps[0].endswith(f" TO `{old}`"), swaps[0]
    swapped = next(i for i, sql in enumerate(statements) if f"`{OLD_M2M}` TO `{NEW_M2M}`" in sql)
    assert not [sql for sql in statements if "RENAME COLUMN" in sql]
    assert not [sql for sql in statements[swapped:] if f"VIEW `{OLD_M2M}`" in sql]
    assert_no_foreign_key_added_with_checks_on(statements)
    assert not [sql for sql in statements if "FOREIGN KEY" in sql]
    assert m2m_columns() == {"id": False, "book_id": False, "author_id": False, "volume_id": True}
    assert unique_columns() == {("book_id", "author_id"), ("volume_id", "author_id")}
    assert len(m2m_triggers()) == 2
    assert select(f"SELECT volume_id, author_id FROM {NEW_M2M}") == [(1, 1)]
    # Release N+1 writes volume_id alone; release N reads book_id through its view.
    execute(f"INSERT INTO {NEW_TABLE} (title, author_id) VALUES ('two', 1)")
    [(two,)] = select(f"SELECT id FROM {NEW_TABLE} WHERE title = 'two'")
    execute(f"INSERT INTO {NEW_M2M} (volume_id, author_id) VALUES (%s, 1)", (two,))
    assert select(f"SELECT book_id, author_id FROM {OLD_M2M} ORDER BY id") == [(1, 1), (two, 1)]
    execute(f"DELETE FROM {NEW_M2M} WHERE volume_id = %s", (two,))

    # Rolled back, the added column goes, and each table takes its old name
    # in the statement that moves its view away.
    with CaptureQueriesContext(connection) as captured:
        call_command("migrate", APP, "0001", verbosity=0)
    statements = [query["sql"] for query in captured.captured_queries]
    for old, new in ((OLD_TABLE, NEW_TABLE), (OLD_M2M, NEW_M2M)):
        swaps = [sql for sql in statements if f"`{new}` TO `{old}`" in sql]
        assert len(swaps) == 1, statements
        assert swaps[0].startswith(f"RENAME TABLE `{old}` TO `green_"), swaps[0]
    assert not [sql for sql in statements if sql.startswith("DROP VIEW IF EXISTS `rename")]
    assert not [sql for sql in statements if "RENAME COLUMN" in sql]
    assert_no_foreign_key_added_with_checks_on(statements)
    assert {OLD_TABLE, OLD_M2M} <= tables()
    assert not {NEW_TABLE, NEW_M2M} & tables()
    assert m2m_columns(OLD_M2M) == {"id": False, "book_id": False, "author_id": False}
    assert unique_columns(OLD_M2M) == {("book_id", "author_id")}
    assert not m2m_triggers()
    assert select(f"SELECT book_id, author_id FROM {OLD_M2M}") == [(1, 1)]


@pytest.mark.skipif(
    connection.vendor != "mysql", reason="the column beside the old one is MariaDB/MySQL's"
)
def test_mariadb_post_deploy_leaves_what_django_renames(
    previous_release: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Post-deploy drops book_id and its triggers; volume_id is what Django's rename makes.

    NOT NULL, in the unique index, with Django's foreign key to the renamed
    table, and every statement online. A run that stops before the foreign
    key is added is finished by the next, and a run of pre-deploy that
    stops before its index is finished too.
    """
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    pre, post = sorted(path.stem for path in previous_release.glob("000[2-9]_*.py"))
    released = schema(OLD_M2M)
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    # A run that stopped after adding the column: the next one syncs, copies, indexes.
    [uniq] = [
        name
        for name, info in constraints(NEW_M2M).items()
        if info["unique"] and list(info["columns"]) == ["volume_id", "author_id"]
    ]
    execute(f"ALTER TABLE {NEW_M2M} DROP INDEX `{uniq}`")
    for trigger in m2m_triggers():
        execute(f"DROP TRIGGER `{trigger}`")
    execute(f"UPDATE {NEW_M2M} SET volume_id = NULL")
    MigrationRecorder(connection).migration_qs.filter(app=APP, name=pre).delete()
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert unique_columns() == {("book_id", "author_id"), ("volume_id", "author_id")}
    assert len(m2m_triggers()) == 2
    assert select(f"SELECT volume_id, author_id FROM {NEW_M2M}") == [(1, 1)]

    def fail(*args: object) -> None:
        raise RuntimeError("stopped")

    monkeypatch.setattr("green_makemigrations.m2m_columns._add_fk_checked", fail)
    with CaptureQueriesContext(connection) as captured, pytest.raises(RuntimeError):
        call_command("migrate", APP, stage="post-deploy", verbosity=0)
    statements = [query["sql"] for query in captured.captured_queries]
    altered = [sql for sql in statements if sql.startswith(f"ALTER TABLE `{NEW_M2M}`")]
    assert len(altered) == 2, statements
    assert all(sql.endswith("ALGORITHM=INPLACE, LOCK=NONE") for sql in altered), altered
    assert m2m_columns() == {"id": False, "author_id": False, "volume_id": False}
    monkeypatch.undo()
    call_command("migrate", APP, stage="post-deploy", verbosity=0)

    assert unique_columns() == {("volume_id", "author_id")}
    assert not m2m_triggers()
    references = {
        tuple(info["columns"]): info["foreign_key"]
        for info in constraints(NEW_M2M).values()
        if info["foreign_key"]
    }
    assert references == {
        ("volume_id",): (NEW_TABLE, "id"),
        ("author_id",): (f"{APP}_author", "id"),
    }
    execute(f"INSERT INTO {NEW_TABLE} (title, author_id) VALUES ('two', 1)")
    [(two,)] = select(f"SELECT id FROM {NEW_TABLE} WHERE title = 'two'")
    execute(f"INSERT INTO {NEW_M2M} (volume_id, author_id) VALUES (%s, 1)", (two,))
    with pytest.raises(IntegrityError):
        execute(f"INSERT INTO {NEW_M2M} (volume_id, author_id) VALUES (%s, 1)", (two,))
    with pytest.raises(IntegrityError):
        execute(f"INSERT INTO {NEW_M2M} (volume_id, author_id) VALUES (%s, 1)", (two + 100,))
    assert post in {
        name for _app, name in MigrationLoader(connection).applied_migrations if _app == APP
    }

    # A rollback stopped after the tables took their old names back is
    # finished by the next one.
    monkeypatch.setattr("green_makemigrations.m2m_columns.restore_foreign_keys", fail)
    with pytest.raises(RuntimeError):
        call_command("migrate", APP, "0001", verbosity=0)
    monkeypatch.undo()
    assert {OLD_TABLE, OLD_M2M} <= tables() and NEW_M2M not in tables()
    call_command("migrate", APP, "0001", verbosity=0)
    assert schema(OLD_M2M) == released
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    call_command("migrate", APP, stage="post-deploy", verbosity=0)

    # Rolling post-deploy back adds book_id back beside volume_id, synced,
    # and the view over it: no column is renamed back, at no moment.
    execute(f"INSERT INTO {APP}_author (name) VALUES ('b')")
    [(b,)] = select(f"SELECT id FROM {APP}_author WHERE name = 'b'")
    with CaptureQueriesContext(connection) as captured:
        call_command("migrate", APP, pre, verbosity=0)
        execute(f"INSERT INTO {OLD_M2M} (book_id, author_id) VALUES (1, %s)", (b,))
        assert select(f"SELECT volume_id FROM {NEW_M2M} WHERE author_id = %s", (b,)) == [(1,)]
        # Rolling pre-deploy back drops volume_id; book_id gets its foreign key back.
        call_command("migrate", APP, "0001", verbosity=0)
    statements = [query["sql"] for query in captured.captured_queries]
    assert not [sql for sql in statements if "RENAME COLUMN" in sql], statements
    assert_no_foreign_key_added_with_checks_on(statements)
    assert m2m_columns(OLD_M2M) == {"id": False, "book_id": False, "author_id": False}
    assert unique_columns(OLD_M2M) == {("book_id", "author_id")}
    references = {
        tuple(info["columns"]): info["foreign_key"]
        for info in constraints(OLD_M2M).values()
        if info["foreign_key"]
    }
    assert references == {("book_id",): (OLD_TABLE, "id"), ("author_id",): (f"{APP}_author", "id")}
    assert not m2m_triggers()
    assert schema(OLD_M2M) == released  # Django's own names, for columns and constraints
    assert select(f"SELECT book_id, author_id FROM {OLD_M2M} ORDER BY id") == [
        (1, 1),
        (two, 1),
        (1, b),
    ]


def assert_no_foreign_key_added_with_checks_on(statements: list[str]) -> None:
    """Fail if a statement adds a foreign key while foreign_key_checks is on (a table copy)."""
    checks = "on"
    for sql in statements:
        if sql.startswith("SET SESSION foreign_key_checks"):
            checks = "off" if sql.endswith("= 0") else "on"
        elif "ADD CONSTRAINT" in sql and "FOREIGN KEY" in sql:
            assert checks == "off", sql


def schema(table: str) -> tuple[dict[str, bool], dict[str, tuple[tuple[str, ...], Any, bool]]]:
    """Return table's columns (nullable?) and constraints (columns, target, unique?) by name."""
    return m2m_columns(table), {
        name: (tuple(info["columns"]), info["foreign_key"], info["unique"])
        for name, info in constraints(table).items()
    }


def constraints(table: str) -> dict[str, Any]:
    """Return Django's introspection of table's constraints."""
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def m2m_columns(table: str = NEW_M2M) -> dict[str, bool]:
    """Return each column of the many-to-many table and whether it is nullable."""
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return {info.name: bool(info.null_ok) for info in description}


def unique_columns(table: str = NEW_M2M) -> set[tuple[str, ...]]:
    """Return the columns of each unique index of table but its primary key."""
    return {
        tuple(info["columns"])
        for info in constraints(table).values()
        if info["unique"] and not info["primary_key"]
    }


def m2m_triggers() -> list[str]:
    """Return the names of the database's triggers (MariaDB/MySQL)."""
    return [
        name
        for (name,) in select(
            "SELECT trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
        )
    ]


def unvalidated_foreign_keys() -> list[tuple[str, str]]:
    """Return (table, name) of each foreign key PostgreSQL has not validated."""
    return select(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE contype = 'f' AND NOT convalidated"
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="NOT VALID is PostgreSQL's")
def test_postgresql_adds_foreign_keys_not_valid_and_validates_them_after(
    previous_release: Path,
) -> None:
    """The foreign keys Django adds back are checked after the rename's transaction.

    Django re-creates the many-to-many table's foreign key to the renamed
    table; validated inside the transaction, it would check every row while
    the rename's exclusive locks stop release N's queries. The migration is
    non-atomic; the constraint is added NOT VALID with the rename and the
    views, and validated after them. A run that stopped in between is
    finished by the next.
    """
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    pre = sorted(previous_release.glob("000[2-9]_*.py"))[0]
    assert "    atomic = False\n" in pre.read_text()
    with CaptureQueriesContext(connection) as captured:
        call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    statements = [query["sql"] for query in captured.captured_queries]
    added = [i for i, sql in enumerate(statements) if "ADD CONSTRAINT" in sql and "FOREIGN" in sql]
    assert len(added) == 1, statements
    assert statements[added[0]].endswith(" NOT VALID"), statements[added[0]]
    validated = [i for i, sql in enumerate(statements) if "VALIDATE CONSTRAINT" in sql]
    views = [i for i, sql in enumerate(statements) if sql.startswith("CREATE VIEW")]
    assert len(validated) == 1 and len(views) == 2
    assert validated[0] > max(views)
    assert unvalidated_foreign_keys() == []

    [(name,)] = select(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' "
        f"AND conrelid = '{NEW_M2M}'::regclass AND confrelid = '{NEW_TABLE}'::regclass"
    )
    definition = select(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", (name,)
    )
    execute(f'ALTER TABLE {NEW_M2M} DROP CONSTRAINT "{name}"')
    execute(f'ALTER TABLE {NEW_M2M} ADD CONSTRAINT "{name}" {definition[0][0]} NOT VALID')
    assert unvalidated_foreign_keys() == [(NEW_M2M, name)]
    MigrationRecorder(connection).migration_qs.filter(app=APP, name=pre.stem).delete()
    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert unvalidated_foreign_keys() == []

    # Rolled back, the same: Django's foreign keys to the table under its old
    # name are validated after the transaction.
    call_command("migrate", APP, "0001", verbosity=0)
    assert unvalidated_foreign_keys() == []
    assert select(f"SELECT book_id, author_id FROM {OLD_M2M}") == [(1, 1)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's lock order")
def test_postgresql_rename_waits_for_an_insert_into_the_many_to_many_table(
    previous_release: Path,
) -> None:
    """The rename locks the many-to-many table before the model's: no deadlock.

    Release N's insert into the many-to-many table holds that table, then
    checks its foreign key, which locks the model's table. A rename that
    locked the model's table first would wait for the insert while the
    insert waits for it (PostgreSQL breaks the deadlock after a second,
    failing one of them); locked in order, the rename waits for the insert.
    """
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    execute(f"INSERT INTO {APP}_author (name) VALUES ('b')")
    [(b,)] = select(f"SELECT id FROM {APP}_author WHERE name = 'b'")
    release_n = connection.copy()
    failures: list[BaseException] = []

    def pre_deploy() -> None:
        try:
            # No retry: a deadlock would fail the rename (or the insert).
            call_command(
                "migrate", APP, stage="pre-deploy", lock_timeout=10, lock_retries=0, verbosity=0
            )
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failures.append(error)
        finally:
            connections.close_all()

    try:
        with release_n.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"LOCK TABLE {OLD_M2M} IN ROW EXCLUSIVE MODE")
            migrate = threading.Thread(target=pre_deploy)
            migrate.start()
            waiting = 0
            for _ in range(500):
                [(waiting,)] = select(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                    (OLD_M2M,),
                )
                if waiting:
                    break
                time.sleep(0.01)
            assert waiting, "the rename never waited for the many-to-many table"
            cursor.execute(f"INSERT INTO {OLD_M2M} (book_id, author_id) VALUES (1, %s)", (b,))
            cursor.execute("COMMIT")
    finally:
        release_n.close()
    migrate.join(timeout=30)
    assert not migrate.is_alive()
    assert failures == []
    assert select(f"SELECT volume_id, author_id FROM {NEW_M2M} ORDER BY id") == [(1, 1), (1, b)]
