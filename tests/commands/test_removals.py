"""Removals end to end: makemigrations writes the stages, migrate applies them one by one.

Each case is a fixture history (the previous release) in which the test app
had something that tests/testapp/models.py (the new release) no longer has.
The test deploys the previous release, generates the migrations, runs the
pre-deploy stage, writes rows as both releases would, runs the post-deploy
stage, and rolls everything back through both stages.

What a rollback can and cannot restore (asserted below): un-applying the
post-deploy drop brings the column (or table) back with its type, and
un-applying the pre-deploy prep brings back NOT NULL, indexes, unique_together
and constraints. The values the drop destroyed do not come back: a re-added
column holds its database default (the db_default prep) or NULL (the
nullable prep), a re-created many-to-many or model table is empty. A column
that was made nullable needs a backfill by the operator before its prep can be
un-applied, since the restored NOT NULL refuses the NULLs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps.registry import Apps
from django.db import DatabaseError, IntegrityError, transaction

from green_makemigrations.constants import Stage
from green_makemigrations.pytest_plugin import StagedDeployFactory
from tests.subset import chosen
from tests.testapp import models as new_release

from .utils import (
    APP_LABEL,
    applied,
    columns,
    execute,
    historical_apps,
    migration_module,
    run,
    select,
    table_rows,
    tables,
)

pytestmark = pytest.mark.django_db(transaction=True)


def book(apps: Apps, title: str, **values: Any) -> Any:
    return apps.get_model(APP_LABEL, "Book").objects.create(title=title, **values)


def author(apps: Apps, name: str) -> Any:
    return apps.get_model(APP_LABEL, "Author").objects.create(name=name)


def tagged_book(apps: Apps, title: str) -> None:
    tag = apps.get_model(APP_LABEL, "Tag").objects.create(name=title)
    book(apps, title).tags.add(tag)


def obsolete_row(apps: Apps, title: str) -> None:
    apps.get_model(APP_LABEL, "Obsolete").objects.create(note=title, book=book(apps, title))


@dataclass(frozen=True)
class Removal:
    """One removal: the fixture history and what to look at in the database."""

    fixture: str
    previous: str  # the previous release's last migration
    table: str
    column: str | None  # None: the whole table goes (many-to-many, deleted model)
    prep: str | None  # "nullable", "db_default", or None: no pre-deploy migration
    write_old: Callable[[Apps, str], None]  # a row as the previous release writes it
    model: str = "Book"  # the model both releases write
    key: str = "title"  # its field that names a row
    field: str | None = None  # attname of the removed field, read through the old model
    default: str | None = None  # text of the introspected database default
    backfill: tuple[str, ...] = ()  # what an operator runs before un-applying a nullable prep
    after_rollback: Any = None  # the old row's value once rolled back, if predictable


CASES = [
    Removal(
        "remove_not_null",
        "0002_book_subtitle",
        "testapp_book",
        "subtitle",
        "nullable",
        lambda apps, title: book(apps, title, subtitle="sub"),
        field="subtitle",
        backfill=("UPDATE testapp_book SET subtitle = 'restored' WHERE subtitle IS NULL",),
        after_rollback="restored",
    ),
    Removal(
        "remove_literal_default",
        "0002_book_pages",
        "testapp_book",
        "pages",
        "db_default",
        lambda apps, title: book(apps, title, pages=3),
        field="pages",
        default="7",
        after_rollback=7,  # not 3: the dropped values are gone
    ),
    Removal(
        "remove_auto_now_add",
        "0002_book_created",
        "testapp_book",
        "created",
        "db_default",
        lambda apps, title: book(apps, title),
        field="created",
    ),
    Removal(
        "remove_fk",
        "0002_book_editor",
        "testapp_book",
        "editor_id",
        "nullable",
        lambda apps, title: book(apps, title, editor=author(apps, title)),
        field="editor_id",
        backfill=(
            "UPDATE testapp_book SET editor_id = (SELECT MIN(id) FROM testapp_author)"
            " WHERE editor_id IS NULL",
        ),
    ),
    Removal(
        "remove_one_to_one",
        "0002_book_featured_by",
        "testapp_book",
        "featured_by_id",
        "nullable",
        lambda apps, title: book(apps, title, featured_by=author(apps, title)),
        field="featured_by_id",
        # Unique: every book needs an author of its own.
        backfill=(
            "INSERT INTO testapp_author (name) VALUES ('new')",
            "UPDATE testapp_book SET featured_by_id = (SELECT id FROM testapp_author"
            " WHERE testapp_author.name = testapp_book.title)",
        ),
    ),
    Removal("remove_m2m", "0002_book_tags", "testapp_book_tags", None, None, tagged_book),
    Removal(
        "remove_db_column",
        "0002_book_legacy",
        "testapp_book",
        "legacy_code",
        "db_default",
        lambda apps, title: book(apps, title, legacy="kept"),
        field="legacy",
        default="legacy",
        after_rollback="legacy",
    ),
    Removal(
        "remove_unique_together",
        "0002_book_edition",
        "testapp_book",
        "edition",
        "db_default",
        lambda apps, title: book(apps, title, edition=2),
        field="edition",
        default="1",
        after_rollback=1,
    ),
    Removal(
        "remove_index",
        "0002_book_isbn",
        "testapp_book",
        "isbn",
        "nullable",
        lambda apps, title: book(apps, title, isbn="9780000000001"),
        field="isbn",
        backfill=("UPDATE testapp_book SET isbn = 'restored' WHERE isbn IS NULL",),
        after_rollback="restored",
    ),
    Removal(
        "remove_uuid",
        "0002_book_token",
        "testapp_book",
        "token",
        "db_default",  # RandomUUID(): a new UUID per row, NOT NULL and unique kept
        lambda apps, title: book(apps, title),
        field="token",
    ),
    Removal(
        "remove_constraint",
        "0002_book_price",
        "testapp_book",
        "price",
        "db_default",
        lambda apps, title: book(apps, title, price=Decimal("9.99")),
        field="price",
        default="0",
        after_rollback=Decimal("0"),
    ),
    Removal(
        "remove_db_table",
        "0002_shelf_label",
        "green_cmd_shelf",
        "label",
        "nullable",
        lambda apps, name: apps.get_model(APP_LABEL, "Shelf").objects.create(name=name, label="L"),
        model="Shelf",
        key="name",
        field="label",
        backfill=("UPDATE green_cmd_shelf SET label = 'restored' WHERE label IS NULL",),
        after_rollback="restored",
    ),
    Removal("remove_model", "0002_obsolete", "testapp_obsolete", None, None, obsolete_row),
]
# The proof's and the exercise's matrices, shared between the Django versions of
# a run (tests/subset.py); representative, so run under each: a nullable prep, a
# database default prep, a table dropped.
SOME_CASES = chosen(
    CASES,
    lambda case: case.fixture in {"remove_not_null", "remove_literal_default", "remove_m2m"},
)


def write_new(case: Removal, name: str) -> None:
    """Write a row with the new release's model, which lacks the removed field."""
    model = getattr(new_release, case.model)
    model.objects.create(**{case.key: name})


def old_row(case: Removal, apps: Apps, name: str) -> Any:
    return apps.get_model(APP_LABEL, case.model).objects.get(**{case.key: name})


def table_exists_with_column(case: Removal) -> bool:
    if case.table not in tables():
        return False
    return case.column is None or case.column in columns(case.table)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.fixture)
def test_removal_through_both_stages(case: Removal, empty_testapp: None) -> None:
    with migration_module("initial", case.fixture) as module:
        # The previous release is deployed and has written a row.
        run("migrate", APP_LABEL, verbosity=0)
        old_apps = historical_apps(case.previous)
        case.write_old(old_apps, "old")
        old_columns = columns(case.table)
        old_rows = table_rows(case.table)
        if case.prep is not None:
            # What the pre-deploy stage is for: the new release cannot write
            # rows without the field yet.
            with pytest.raises(DatabaseError):
                write_new(case, "too early")

        # makemigrations: one pre-deploy and one post-deploy migration, each
        # saying its stage (no pre-deploy one when nothing needs preparing).
        run("makemigrations", APP_LABEL, interactive=False)
        new = [name for name in module.files() if name not in {"0001_initial", case.previous}]
        # (A dropped index has a pre-deploy migration of its own: it is dropped
        # outside a transaction.)
        stages = [module.load(name).Migration.stage for name in new]
        assert stages[-1] is Stage.POST_DEPLOY, new
        assert set(stages[:-1]) == ({Stage.PRE_DEPLOY} if case.prep else set()), new
        for name, stage in zip(new, stages, strict=True):
            assert f"    stage = Stage.{stage.name}\n" in module.read(name)
            assert "from green_makemigrations.constants import Stage\n" in module.read(name)
        pre, post = new[:-1], new[-1]
        assert "migrations.RemoveField(" in module.read(post) or (
            "migrations.DeleteModel(" in module.read(post)
        )

        # Pre-deploy: only the prep runs; the column and every value stay.
        output = run("migrate", APP_LABEL, stage="pre-deploy")
        assert applied() == {"0001_initial", case.previous, *pre}
        assert f"Left for the post-deploy stage:\n  testapp.{post}" in output.stdout
        assert table_rows(case.table) == old_rows
        assert table_exists_with_column(case)
        if case.column is not None:
            info = columns(case.table)[case.column]
            if case.prep == "nullable":
                assert info.null_ok
            else:
                assert not info.null_ok
                assert info.default is not None
                if case.default is not None:
                    assert case.default in str(info.default)

        # Both releases run: the new one writes rows without the field, the
        # old one still writes (and reads) it.
        write_new(case, "new")
        case.write_old(old_apps, "old-2")
        if case.prep == "db_default":
            # The old release never reads NULL from a NOT NULL field.
            assert getattr(old_row(case, old_apps, "new"), str(case.field)) is not None

        # Running the stage again changes nothing.
        schema = columns(case.table)
        again = run("migrate", APP_LABEL, stage="pre-deploy")
        assert "No migrations to apply." in again.stdout
        assert columns(case.table) == schema

        # Post-deploy: the drop.
        run("migrate", APP_LABEL, stage="post-deploy")
        assert applied() == {"0001_initial", case.previous, *pre, post}
        if case.column is not None:
            assert case.column not in columns(case.table)
            assert len(table_rows(case.table)) == 3
        else:
            assert case.table not in tables()
        again = run("migrate", APP_LABEL, stage="post-deploy")
        assert "No migrations to apply." in again.stdout

        # The models and the migrations agree.
        check = run("makemigrations", APP_LABEL, check_changes=True)
        assert "No changes detected in app 'testapp'" in check.stdout

        # Rollback to the previous release: its pre-deploy stage un-applies
        # the drop, its post-deploy stage the prep.
        run("migrate", APP_LABEL, case.previous, stage="pre-deploy")
        assert applied() == {"0001_initial", case.previous, *pre}
        assert table_exists_with_column(case)
        for sql in case.backfill:
            execute(sql)
        run("migrate", APP_LABEL, case.previous, stage="post-deploy")
        assert applied() == {"0001_initial", case.previous}
        assert columns(case.table) == old_columns
        if case.column is None:
            assert table_rows(case.table) == []  # links and rows are not restored
        else:
            nulls = f"SELECT COUNT(*) FROM {case.table} WHERE {case.column} IS NULL"
            assert select(nulls) == [(0,)]
            if case.after_rollback is not None:
                value = getattr(old_row(case, old_apps, "old"), str(case.field))
                assert value == case.after_rollback
        # The previous release works again.
        case.write_old(old_apps, "old-3")


REFERENCING = [
    case for case in CASES if case.fixture.endswith(("_fk", "_one_to_one", "_m2m", "_model"))
]


@pytest.mark.parametrize("case", REFERENCING, ids=lambda case: case.fixture)
def test_removed_relation_keeps_its_constraint_until_the_drop(
    case: Removal, empty_testapp: None, staged_deploy: StagedDeployFactory
) -> None:
    """The database keeps a removed relation's foreign key until post-deploy.

    That is the documented behaviour (README, Limitations): the old release
    still writes the relation, so its integrity is kept; the new release, which
    does not know the relation, cannot delete the rows it points to until the
    post-deploy stage drops it. The deploy goes through the pytest plugin's
    fixture, as a project's own test would.
    """
    with migration_module("initial", case.fixture):
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        deploy = staged_deploy(deployed=[(APP_LABEL, case.previous)])
        case.write_old(deploy.before(), "old")
        deploy.pre_deploy()

        if case.fixture in ("remove_fk", "remove_one_to_one"):
            referenced = new_release.Author.objects.filter(name="old")
        else:
            referenced = new_release.Book.objects.filter(title="old")
        with pytest.raises(IntegrityError), transaction.atomic():
            referenced.delete()
        assert referenced.exists()

        deploy.post_deploy()
        referenced.delete()
        assert not referenced.exists()
