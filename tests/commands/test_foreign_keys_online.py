"""Foreign keys added to an existing table, applied to a real database.

AddForeignKeyNotValid and AlterFieldForeignKeyNotValid are written into a
migration file (StagedMigrationWriter, as makemigrations does), applied with
migrate, undone, and the schema introspected: the constraint exists, on
PostgreSQL it is validated, and a row pointing nowhere is refused. On
PostgreSQL the schema is compared with the one Django's own operation gives,
and a failed run (the constraint left NOT VALID) is finished by a re-run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, models, transaction
from django.db.migrations import Migration, operations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState

from green_makemigrations.constants import Stage
from green_makemigrations.foreign_keys import AddForeignKeyNotValid, AlterFieldForeignKeyNotValid
from green_makemigrations.writer import StagedMigrationWriter

from .utils import app_with_history, columns, execute, run, select

APP = "fk_app"
AUTHOR, BOOK = "fk_app_author", "fk_app_book"
POSTGRESQL = connection.vendor == "postgresql"
only_postgresql = pytest.mark.skipif(
    not POSTGRESQL, reason="PostgreSQL behaviour: NOT VALID constraints"
)

INITIAL = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Author",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=50)),{extra}
            ],
        ),
    ]
"""
# The column the previous release had, for AlterFieldForeignKeyNotValid.
OLD_COLUMNS = {
    "integer": 'models.IntegerField(null=True, db_column="author_id")',
    "unconstrained_fk": (
        'models.ForeignKey(null=True, on_delete=models.CASCADE, to="fk_app.author", '
        "db_constraint=False)"
    ),
    "renamed_integer": "models.IntegerField(null=True)",  # column "author" becomes "author_id"
}


def author_fk(**options: Any) -> models.ForeignKey[Any, Any]:
    return models.ForeignKey("fk_app.author", models.CASCADE, null=True, **options)


def editor_one_to_one() -> models.OneToOneField[Any, Any]:
    return models.OneToOneField(
        "fk_app.author", models.SET_NULL, null=True, related_name="edited_book"
    )


@pytest.fixture
def history(tmp_path: Path, transactional_db: None) -> Iterator[Path]:
    """The app at the previous release: Author, and Book without an author."""
    with app_with_history(tmp_path, APP, INITIAL.replace("{extra}", "")) as migrations:
        execute(f"INSERT INTO {AUTHOR} (id, name) VALUES (1, 'Ann'), (2, 'Bob')")
        execute(f"INSERT INTO {BOOK} (id, title) VALUES (1, 'a'), (2, 'b')")
        yield migrations


def write_migration(directory: Path, *ops: Operation, name: str = "0002_online_fk") -> str:
    """Write a pre-deploy migration holding ops, as makemigrations writes it."""
    migration = type(
        "Migration",
        (Migration,),
        {
            "operations": list(ops),
            "dependencies": [(APP, "0001_initial")],
            "stage": Stage.PRE_DEPLOY,
            "atomic": False,
        },
    )(name, APP)
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    assert "import green_makemigrations.foreign_keys\n" in text
    assert "    atomic = False\n" in text
    (directory / f"{name}.py").write_text(text)
    return name


def migrate(*args: str) -> None:
    run("migrate", APP, *args, verbosity=0)


def foreign_keys(table: str = BOOK) -> dict[str, tuple[list[str], tuple[str, str]]]:
    """Return the foreign key constraints of table: name -> (columns, (table, column))."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: (info["columns"], info["foreign_key"])
        for name, info in found.items()
        if info["foreign_key"]
    }


def pg_constraint(name: str) -> list[tuple[Any, ...]]:
    """Return (convalidated, condeferrable, condeferred) of a PostgreSQL constraint."""
    return select(
        "SELECT convalidated, condeferrable, condeferred FROM pg_constraint WHERE conname = %s",
        (name,),
    )


def indexes(table: str = BOOK) -> dict[str, tuple[list[str], bool]]:
    """Return the indexes and unique constraints of table: name -> (columns, unique)."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: (info["columns"], info["unique"])
        for name, info in found.items()
        if (info["index"] or info["unique"]) and not info["primary_key"]
    }


def assert_refused(sql: str) -> None:
    """The statement breaks the foreign key: it fails, at the latest at commit."""
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(sql)


def constraint_name(column: str) -> str:
    [name] = [name for name, (cols, _) in foreign_keys().items() if cols == [column]]
    return name


# -- AddForeignKeyNotValid ------------------------------------------------------


def test_added_foreign_key_forwards_and_backwards(history: Path) -> None:
    name = write_migration(history, AddForeignKeyNotValid("book", "author", author_fk()))
    out = run("sqlmigrate", APP, name).stdout
    if POSTGRESQL:
        assert 'ADD COLUMN "author_id" integer NULL;' in out
        assert 'CREATE INDEX CONCURRENTLY "fk_app_book_author_id_' in out
        assert "DEFERRABLE INITIALLY DEFERRED NOT VALID;" in out
        assert 'ALTER TABLE "fk_app_book" VALIDATE CONSTRAINT "fk_app_book_author_id_' in out
        assert "BEGIN;" not in out
    else:
        assert "author_id" in out

    migrate()
    assert list(foreign_keys().values()) == [(["author_id"], (AUTHOR, "id"))]
    assert [cols for cols, _ in indexes().values()] == [["author_id"]]
    if POSTGRESQL:
        assert pg_constraint(constraint_name("author_id")) == [(True, True, True)]
    execute(f"UPDATE {BOOK} SET author_id = 1 WHERE id = 1")
    assert_refused(f"UPDATE {BOOK} SET author_id = 999 WHERE id = 2")
    assert_refused(f"INSERT INTO {BOOK} (id, title, author_id) VALUES (3, 'c', 999)")

    migrate("0001")
    assert "author_id" not in columns(BOOK)
    assert foreign_keys() == {}
    # Forwards again on the emptied table.
    migrate()
    assert list(foreign_keys().values()) == [(["author_id"], (AUTHOR, "id"))]


def test_added_one_to_one_is_unique_and_constrained(history: Path) -> None:
    write_migration(history, AddForeignKeyNotValid("book", "editor", editor_one_to_one()))
    migrate()
    assert list(foreign_keys().values()) == [(["editor_id"], (AUTHOR, "id"))]
    assert [(cols, unique) for cols, unique in indexes().values() if unique] == [
        (["editor_id"], True)
    ]
    if POSTGRESQL:
        assert pg_constraint(constraint_name("editor_id")) == [(True, True, True)]
    execute(f"UPDATE {BOOK} SET editor_id = 1 WHERE id = 1")
    assert_refused(f"UPDATE {BOOK} SET editor_id = 1 WHERE id = 2")  # unique
    assert_refused(f"UPDATE {BOOK} SET editor_id = 999 WHERE id = 2")  # dangling
    migrate("0001")
    assert "editor_id" not in columns(BOOK)


def test_added_not_null_foreign_key_with_default(history: Path) -> None:
    """Existing rows get the default, which the validation checks."""
    field = models.ForeignKey("fk_app.author", models.CASCADE, default=2)
    write_migration(history, AddForeignKeyNotValid("book", "author", field))
    migrate()
    assert select(f"SELECT author_id FROM {BOOK} ORDER BY id") == [(2,), (2,)]
    assert not columns(BOOK)["author_id"].null_ok
    assert_refused(f"UPDATE {BOOK} SET author_id = 999 WHERE id = 2")
    migrate("0001")
    assert "author_id" not in columns(BOOK)


@only_postgresql
@pytest.mark.parametrize(
    ("name", "field"),
    [("author", author_fk()), ("editor", editor_one_to_one())],
    ids=["fk", "one_to_one"],
)
def test_schema_is_the_one_django_s_add_field_gives(
    history: Path, name: str, field: models.ForeignKey[Any, Any]
) -> None:
    """Same column, constraint name, deferrability and indexes as Django's AddField.

    A one-to-one's unique constraint gets the name Django gives unique
    constraints it adds (``_uniq``), where Django's inline UNIQUE gets
    PostgreSQL's ``_key``.
    """
    write_migration(history, AddForeignKeyNotValid("book", name, field.clone()))
    migrate()
    ours = (columns(BOOK), foreign_keys(), indexes())
    fk_state = pg_constraint(next(iter(foreign_keys())))
    migrate("0001")

    stock = operations.AddField("book", name, field.clone())
    from_state = history_state()
    to_state = from_state.clone()
    stock.state_forwards(APP, to_state)
    with connection.schema_editor() as editor:
        stock.database_forwards(APP, editor, from_state, to_state)
    try:
        theirs = (columns(BOOK), foreign_keys(), indexes())
        assert pg_constraint(next(iter(foreign_keys()))) == fk_state == [(True, True, True)]
    finally:
        with connection.schema_editor() as editor:
            stock.database_backwards(APP, editor, to_state, from_state)
    assert ours[:2] == theirs[:2]
    if field.one_to_one:
        assert [(cols, unique) for cols, unique in ours[2].values()] == [
            (cols, unique) for cols, unique in theirs[2].values()
        ]
        assert [n.endswith("_uniq") for n in ours[2]] == [True]
    else:
        assert ours[2] == theirs[2]


def history_state() -> ProjectState:
    """Return the project state at fk_app's 0001_initial."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    return loader.project_state((APP, "0001_initial"), at_end=True)


def apply(operation: Operation, backwards: bool = False) -> None:
    """Run operation on the database outside a transaction, from fk_app's 0001_initial."""
    before = history_state()
    after = before.clone()
    operation.state_forwards(APP, after)
    with connection.schema_editor(atomic=False) as editor:
        if backwards:
            operation.database_backwards(APP, editor, after, before)
        else:
            operation.database_forwards(APP, editor, before, after)


def leave_behind(step: str) -> tuple[str, str]:
    """Take the added foreign key back to where a run failing after step leaves it.

    Return the names of the constraint and of the index.
    """
    fk = constraint_name("author_id")
    [index] = indexes()
    execute(f'ALTER TABLE {BOOK} DROP CONSTRAINT "{fk}"')
    if step == "column":
        execute(f'DROP INDEX "{index}"')
    if step == "invalid_index":
        execute(f'DROP INDEX "{index}"')
        execute(f'CREATE INDEX "{index}" ON {BOOK} (author_id) WHERE author_id > 0')
        execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", (index,))
    if step == "not_valid":
        execute(
            f'ALTER TABLE {BOOK} ADD CONSTRAINT "{fk}" FOREIGN KEY (author_id) '
            f"REFERENCES {AUTHOR} (id) DEFERRABLE INITIALLY DEFERRED NOT VALID"
        )
        assert pg_constraint(fk) == [(False, True, True)]
    return fk, index


def test_added_foreign_key_applied_twice(history: Path) -> None:
    """A second run finds the column there and leaves it (every backend)."""
    operation = AddForeignKeyNotValid("book", "author", author_fk())
    apply(operation)
    apply(operation)
    assert list(foreign_keys().values()) == [(["author_id"], (AUTHOR, "id"))]
    apply(operation, backwards=True)
    apply(operation, backwards=True)
    assert "author_id" not in columns(BOOK)


LEFT_BEHIND = ["column", "invalid_index", "index", "not_valid"]


@only_postgresql
@pytest.mark.parametrize("step", LEFT_BEHIND)
def test_added_foreign_key_rerun_finishes_a_failed_run(history: Path, step: str) -> None:
    """A run that stopped after any step is finished by running the operation again."""
    operation = AddForeignKeyNotValid("book", "author", author_fk())
    apply(operation)
    fk, index = leave_behind(step)

    apply(operation)
    assert list(foreign_keys()) == [fk]
    assert pg_constraint(fk) == [(True, True, True)]
    assert indexes() == {index: (["author_id"], False)}
    assert select("SELECT indisvalid FROM pg_index WHERE indexrelid = %s::regclass", (index,)) == [
        (True,)
    ]
    # Backwards twice: the second finds the column gone and does nothing.
    apply(operation, backwards=True)
    apply(operation, backwards=True)
    assert "author_id" not in columns(BOOK)


@only_postgresql
def test_added_foreign_key_rerun_after_validation_failed(history: Path) -> None:
    """A default pointing nowhere makes VALIDATE fail; once fixed, a re-run validates."""
    field = models.ForeignKey("fk_app.author", models.CASCADE, default=3)
    operation = AddForeignKeyNotValid("book", "author", field)
    with pytest.raises(IntegrityError):
        apply(operation)
    fk = constraint_name("author_id")
    assert pg_constraint(fk) == [(False, True, True)]  # left NOT VALID

    execute(f"INSERT INTO {AUTHOR} (id, name) VALUES (3, 'Cy')")
    apply(operation)
    assert pg_constraint(fk) == [(True, True, True)]
    assert select(f"SELECT author_id FROM {BOOK} ORDER BY id") == [(3,), (3,)]


@only_postgresql
def test_migrate_rerun_finishes_an_added_foreign_key(history: Path) -> None:
    """migrate run again after a failure finishes the migration."""
    name = write_migration(history, AddForeignKeyNotValid("book", "author", author_fk()))
    migrate()
    fk, _ = leave_behind("not_valid")
    MigrationRecorder(connection).record_unapplied(APP, name)
    migrate()
    assert pg_constraint(fk) == [(True, True, True)]


# -- AlterFieldForeignKeyNotValid -------------------------------------------------


@pytest.fixture(params=list(OLD_COLUMNS))
def alter_history(request: pytest.FixtureRequest, tmp_path: Path, transactional_db: None) -> Any:
    """The app at a previous release whose Book.author has no constraint."""
    old = OLD_COLUMNS[request.param]
    column = "author" if request.param == "renamed_integer" else "author_id"
    initial = INITIAL.replace("{extra}", f'\n                ("author", {old}),')
    with app_with_history(tmp_path, APP, initial) as migrations:
        execute(f"INSERT INTO {AUTHOR} (id, name) VALUES (1, 'Ann'), (2, 'Bob')")
        execute(f"INSERT INTO {BOOK} (id, title, {column}) VALUES (1, 'a', 1), (2, 'b', NULL)")
        yield migrations, column


def test_altered_field_gets_its_constraint_forwards_and_backwards(
    alter_history: tuple[Path, str],
) -> None:
    directory, old_column = alter_history
    name = write_migration(directory, AlterFieldForeignKeyNotValid("book", "author", author_fk()))
    assert foreign_keys() == {}
    out = run("sqlmigrate", APP, name).stdout
    if POSTGRESQL:
        assert "DEFERRABLE INITIALLY DEFERRED NOT VALID;" in out
        assert 'ALTER TABLE "fk_app_book" VALIDATE CONSTRAINT "fk_app_book_author_id_' in out

    migrate()
    assert list(foreign_keys().values()) == [(["author_id"], (AUTHOR, "id"))]
    assert select(f"SELECT author_id FROM {BOOK} ORDER BY id") == [(1,), (None,)]
    assert [cols for cols, _ in indexes().values()] == [["author_id"]]
    if POSTGRESQL:
        assert pg_constraint(constraint_name("author_id")) == [(True, True, True)]
    assert_refused(f"UPDATE {BOOK} SET author_id = 999 WHERE id = 2")

    migrate("0001")
    assert foreign_keys() == {}
    assert old_column in columns(BOOK)
    execute(f"UPDATE {BOOK} SET {old_column} = 999 WHERE id = 2")  # no constraint any more


@only_postgresql
def test_altered_field_rerun_after_validation_failed(alter_history: tuple[Path, str]) -> None:
    """A dangling value makes VALIDATE fail; once fixed, a re-run validates."""
    directory, old_column = alter_history
    write_migration(directory, AlterFieldForeignKeyNotValid("book", "author", author_fk()))
    execute(f"UPDATE {BOOK} SET {old_column} = 999 WHERE id = 2")
    with pytest.raises(CommandError, match="stopped on rows of the table: .*999"):
        migrate()
    fk = constraint_name("author_id")
    assert pg_constraint(fk) == [(False, True, True)]  # left NOT VALID
    # New rows are checked already.
    assert_refused(f"INSERT INTO {BOOK} (id, title, author_id) VALUES (3, 'c', 999)")

    execute(f"UPDATE {BOOK} SET author_id = NULL WHERE id = 2")
    migrate()
    assert list(foreign_keys()) == [fk]
    assert pg_constraint(fk) == [(True, True, True)]
    assert [cols for cols, _ in indexes().values()] == [["author_id"]]
    migrate("0001")
    assert foreign_keys() == {}
    assert old_column in columns(BOOK)


@only_postgresql
def test_lock_timeout_retry_finishes_an_added_foreign_key(history: Path) -> None:
    """ADD CONSTRAINT waits for a writer of the referenced table; the retry finishes."""
    write_migration(history, AddForeignKeyNotValid("book", "author", author_fk()))
    with table_locked(AUTHOR, seconds=1.5):
        run("migrate", APP, stage="pre-deploy", lock_timeout=0.2, lock_retries=8)
    assert list(foreign_keys().values()) == [(["author_id"], (AUTHOR, "id"))]
    assert pg_constraint(constraint_name("author_id")) == [(True, True, True)]


@contextmanager
def table_locked(table: str, seconds: float) -> Iterator[None]:
    """Hold ROW EXCLUSIVE on table (as a writer does) for seconds, from another connection."""
    other = connection.copy()
    other.inc_thread_sharing()
    cursor = other.cursor()
    cursor.execute("BEGIN")
    cursor.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
    timer = threading.Timer(seconds, lambda: cursor.execute("ROLLBACK"))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        cursor.close()
        other.close()


# -- MariaDB/MySQL: rows checked by a query, the constraint added in place ------

only_mysql = pytest.mark.skipif(
    connection.vendor != "mysql",
    reason="MariaDB behaviour: foreign_key_checks off lets the server add it in place",
)


@only_mysql
@pytest.mark.parametrize(
    ("name", "field"),
    [("author", author_fk()), ("editor", editor_one_to_one())],
    ids=["fk", "one_to_one"],
)
def test_mariadb_schema_is_the_one_django_s_add_field_gives(
    history: Path, name: str, field: models.ForeignKey[Any, Any]
) -> None:
    """Same columns, constraint and indexes (names included) as Django's AddField."""
    apply(AddForeignKeyNotValid("book", name, field.clone()))
    ours = (columns(BOOK), foreign_keys(), indexes())
    apply(AddForeignKeyNotValid("book", name, field.clone()), backwards=True)

    stock = operations.AddField("book", name, field.clone())
    apply(stock)
    try:
        theirs = (columns(BOOK), foreign_keys(), indexes())
    finally:
        apply(stock, backwards=True)
    assert ours == theirs


@only_mysql
def test_mariadb_dangling_default_is_refused_then_added_once_fixed(history: Path) -> None:
    """A default pointing nowhere is found by the check query; once fixed, a re-run adds it."""
    field = models.ForeignKey("fk_app.author", models.CASCADE, default=3)
    operation = AddForeignKeyNotValid("book", "author", field)
    with pytest.raises(IntegrityError, match=r"holds 3, which fk_app_author\.id does not have"):
        apply(operation)
    assert foreign_keys() == {}  # the column is there, the constraint is not

    execute(f"INSERT INTO {AUTHOR} (id, name) VALUES (3, 'Cy')")
    apply(operation)
    assert list(foreign_keys().values()) == [(["author_id"], (AUTHOR, "id"))]
    with pytest.raises(IntegrityError), transaction.atomic():
        execute(f"UPDATE {BOOK} SET author_id = 99")
