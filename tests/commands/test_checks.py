"""System checks: green_makemigrations.E001 to E004, W001 and W002."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import ERROR, WARNING, CheckMessage, run_checks
from django.core.management import get_commands
from django.core.management.base import CommandError, SystemCheckError
from django.db import connection, models
from django.db.migrations import Migration, operations
from django.db.migrations.state import ModelState, ProjectState
from django.test.utils import override_settings

from green_makemigrations import conf
from green_makemigrations.constants import STAGE_SPELLINGS
from green_makemigrations.plan import data_drops
from green_makemigrations.rules import database_renames

from .utils import APP_LABEL, applied, columns, migration_module, run, tables

SHADOWING_APP = "tests.commands.shadowing_app"


def green(messages: list[CheckMessage], number: str) -> list[CheckMessage]:
    return [message for message in messages if message.id == f"green_makemigrations.{number}"]


def forget_commands() -> None:
    """Forget which app provides each command (get_commands() is cached)."""
    get_commands.cache_clear()  # type: ignore[attr-defined]


@pytest.fixture
def fresh_commands() -> Iterator[None]:
    forget_commands()
    yield
    forget_commands()


@pytest.mark.parametrize(
    ("command", "mixin"),
    [("migrate", "MigrateMixin"), ("squashmigrations", "SquashmigrationsMixin")],
)
def test_e001_another_command_listed_first(fresh_commands: None, command: str, mixin: str) -> None:
    assert green(run_checks(), "E001") == []
    with override_settings(INSTALLED_APPS=[SHADOWING_APP, *settings.INSTALLED_APPS]):
        forget_commands()
        assert get_commands()[command] == SHADOWING_APP
        errors = green(run_checks(), "E001")
    forget_commands()
    assert [error.msg for error in errors] == [
        f"The '{name}' command comes from '{SHADOWING_APP}', not from "
        "green_makemigrations, so deploy stages are not applied."
        for name in ("migrate", "squashmigrations")
    ]
    [error] = [error for error in errors if f"'{command}'" in error.msg]
    assert error.hint == (
        f"Put 'green_makemigrations' before '{SHADOWING_APP}' in INSTALLED_APPS, or, to keep "
        f"'{SHADOWING_APP}''s command too, give it {mixin} from "
        "green_makemigrations.commands in a project app listed first "
        "(see docs/howto/composition.rst)."
    )


def test_e001_not_raised_when_listed_after(fresh_commands: None) -> None:
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, SHADOWING_APP]):
        forget_commands()
        assert get_commands()["migrate"] == "green_makemigrations"
        assert get_commands()["squashmigrations"] == "green_makemigrations"
        assert green(run_checks(), "E001") == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["STAGES"], "GREEN_MAKEMIGRATIONS must be a dict, not list."),
        (
            {"STAGE": {}},
            # Other settings keep coming: the list is conf's, sorted.
            "GREEN_MAKEMIGRATIONS has an unknown key 'STAGE'; "
            f"known keys: {', '.join(sorted(conf.KNOWN_KEYS))}.",
        ),
        ({"STAGES": ["testapp"]}, "GREEN_MAKEMIGRATIONS['STAGES'] must be a dict."),
        (
            {"STAGES": {"testapp": "sometime"}},
            f"GREEN_MAKEMIGRATIONS['STAGES']['testapp'] is 'sometime'; use {STAGE_SPELLINGS}.",
        ),
        (
            {"STAGES": {"testap": "post-deploy"}},
            "GREEN_MAKEMIGRATIONS['STAGES'] has the key 'testap', but no installed app has the "
            "label 'testap': it overrides nothing.",
        ),
        (
            {"STAGES": {"shop.0002_drop": "post-deploy"}},
            "GREEN_MAKEMIGRATIONS['STAGES'] has the key 'shop.0002_drop', but no installed app "
            "has the label 'shop': it overrides nothing.",
        ),
    ],
)
def test_e002_bad_setting(value: object, message: str) -> None:
    with override_settings(GREEN_MAKEMIGRATIONS=value):
        [error] = green(run_checks(), "E002")
        assert error.msg == message
        with pytest.raises(SystemCheckError, match="green_makemigrations.E002"):
            run("check")
    assert green(run_checks(), "E002") == []


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["testapp.0002_book_isbm", "testapp.0003_remove_book_isbn"])
def test_e002_stages_key_naming_no_migration(key: str) -> None:
    """A key naming a migration the app lacks: the database check says so, stage runs refuse."""
    with (
        migration_module("initial", "unstaged"),
        override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {key: "post-deploy"}}),
    ):
        exists = key.endswith("0003_remove_book_isbn")
        assert green(run_checks(), "E002") == []  # the migrations are not loaded there
        errors = green(run_checks(databases=["default"]), "E002")
        if exists:
            assert errors == []
            return
        [error] = errors
        assert error.msg == (
            f"GREEN_MAKEMIGRATIONS['STAGES'] has the key '{key}', but app 'testapp' has no "
            "migration '0002_book_isbm': it overrides nothing."
        )
        assert "Fix or remove it" in (error.hint or "")
        with pytest.raises(SystemCheckError, match="green_makemigrations.E002"):
            run("check", "--database", "default")
        for stage in ("pre-deploy", "post-deploy"):
            with pytest.raises(CommandError, match="has no migration '0002_book_isbm'"):
                run("migrate", APP_LABEL, stage=stage)
        assert applied() == set()


@pytest.mark.django_db
def test_e003_invalid_written_stage() -> None:
    with migration_module("initial", "bad_stage"):
        assert green(run_checks(), "E003") == []  # a database check
        [error] = green(run_checks(databases=["default"]), "E003")
        assert "testapp.0002_book_isbn has stage = 'mid_deploy'" in error.msg


@pytest.mark.django_db
def test_e004_pre_deploy_migration_that_drops_data() -> None:
    with migration_module("initial", "unsafe"):
        assert green(run_checks(), "E004") == []  # a database check
        [error] = green(run_checks(databases=["default"]), "E004")
        assert error.msg == (
            "Migration testapp.0003_remove_book_isbn is pre-deploy (written) but drops "
            "data: Remove field isbn from book."
        )
        assert error.hint == (
            "The previous release still uses it while the pre-deploy stage runs. Mark the "
            "migration `stage = Stage.POST_DEPLOY`, or move the drop to a post-deploy migration."
        )
        assert error.obj.name == "0003_remove_book_isbn"
        with pytest.raises(SystemCheckError, match="green_makemigrations.E004"):
            run("check", "--database", "default")
        # migrate --stage pre-deploy refuses it itself, before touching anything
        # (migrate leaves E003/E004 out of its system checks: no second graph).
        with pytest.raises(CommandError, match="but drops data"):
            run("migrate", APP_LABEL, stage="pre-deploy", skip_checks=False)
        assert applied() == set()


@pytest.mark.django_db
def test_no_stage_errors_for_a_sound_history() -> None:
    with migration_module("initial", "blocked"):
        # Blocked for the pre-deploy stage, but every stage is valid.
        messages = run_checks(databases=["default"])
        assert [m for m in messages if (m.id or "").startswith("green_makemigrations.")] == []


@pytest.mark.django_db
def test_e004_drop_inside_separate_database_and_state() -> None:
    with migration_module("initial", "separate_drop"):
        [error] = green(run_checks(databases=["default"]), "E004")
        assert error.msg == (
            "Migration testapp.0003_remove_book_isbn is pre-deploy (written) but drops data: "
            "Remove field isbn from book (in a SeparateDatabaseAndState's database_operations)."
        )
    with migration_module("initial", "separate_state_only"):
        assert green(run_checks(databases=["default"]), "E004") == []


@pytest.mark.parametrize(
    ("history", "number", "message"),
    [
        (
            "runsql_drop",
            "W001",
            "Migration testapp.0003_remove_book_isbn is pre-deploy (inferred) and its RunSQL "
            "(operation 1) may drop or rename what the previous release still uses: DROP COLUMN "
            "in `ALTER TABLE testapp_book DROP COLUMN isbn`.",
        ),
        (
            "hand_rename",
            "W002",
            "Migration testapp.0003_rename_book_isbn (pre-deploy, inferred) renames in the "
            "database: column isbn of table testapp_book becomes number (Rename field isbn on "
            "book to number). The previous release, still running during the pre-deploy stage, "
            "uses the old name: its queries fail until it is gone.",
        ),
    ],
)
def test_warnings_for_pending_migrations(
    empty_testapp: None, history: str, number: str, message: str
) -> None:
    with migration_module("initial", history) as module:
        assert green(run_checks(), number) == []  # a database check
        [warning] = green(run_checks(databases=["default"]), number)
        assert (warning.level, warning.msg) == (WARNING, message)
        assert warning.obj.name == module.files()[-1]
        assert [m.id for m in run_checks(databases=["default"]) if m.level >= ERROR] == []
        # A warning: check passes, and the stage runs (migrate does not run E003-W002 itself).
        run("check", "--database", "default")
        run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)
        assert module.files()[-1] in applied()
        # Applied: nothing left to warn about.
        assert green(run_checks(databases=["default"]), number) == []


# -- W002 says what Django renames: a differential test on the database -----


def rename_models() -> ProjectState:
    """Models of every kind a rename touches, their tables named for cleanup."""
    fields: list[tuple[str, Any]] = [("id", models.AutoField(primary_key=True))]
    state = ProjectState()
    for model_state in (
        ModelState("testapp", "Author", list(fields)),
        ModelState("testapp", "Tag", list(fields)),
        ModelState(
            "testapp",
            "Book",
            [
                *fields,
                ("isbn", models.CharField(max_length=13)),
                ("code", models.CharField(max_length=5, db_column="legacy_code")),
                ("author", models.ForeignKey("testapp.Author", models.CASCADE)),
                ("tags", models.ManyToManyField("testapp.Tag")),
            ],
        ),
        ModelState(
            "testapp",
            "Shelf",
            [*fields, ("books", models.ManyToManyField("testapp.Book"))],
            {"db_table": "green_cmd_shelf"},
        ),
    ):
        state.add_model(model_state)
    return state


RENAMES = [
    operations.RenameField("book", "isbn", "number"),
    operations.RenameField("book", "author", "writer"),
    operations.RenameField("book", "code", "reference"),
    operations.RenameField("book", "tags", "labels"),
    operations.AlterField("book", "isbn", models.CharField(max_length=13, db_column="number")),
    operations.AlterField("book", "code", models.CharField(max_length=5)),
    operations.RenameModel("Book", "Volume"),
    operations.RenameModel("Shelf", "Rack"),
    operations.AlterModelTable("Author", "testapp_writer"),
    operations.AlterModelTable("Shelf", None),
]


def schema() -> dict[str, set[str]]:
    """Return the columns of the test app's tables, by table."""
    return {
        table: set(columns(table))
        for table in tables()
        if table.startswith(("testapp_", "green_cmd_"))
    }


def test_w002_names_what_django_renames(empty_testapp: None) -> None:
    # One schema, each rename applied and undone in turn (creating tables is slow).
    state = rename_models()
    with connection.schema_editor() as editor:
        for model in state.apps.get_models():
            editor.create_model(model)
    before = schema()
    for operation in RENAMES:
        # What W002 says, applied to the schema...
        expected = {table: set(names) for table, names in before.items()}
        renames = database_renames([operation], "testapp", state)
        moved = {r.old: r.new for r in renames if r.what == "table"}
        for old, new in moved.items():
            expected[new] = expected.pop(old)
        for rename in (r for r in renames if r.what == "column"):
            table = expected[moved.get(rename.table, rename.table)]
            table.remove(rename.old)
            table.add(rename.new)
        # ... is what Django does.
        after_state = state.clone()
        operation.state_forwards("testapp", after_state)
        with connection.schema_editor() as editor:
            operation.database_forwards("testapp", editor, state, after_state)
        assert schema() == expected, operation.describe()
        assert bool(renames) is (expected != before), operation.describe()
        # Undone, for the next one (whose comparison would fail if it were not).
        with connection.schema_editor() as editor:
            operation.database_backwards("testapp", editor, after_state, state)
    assert schema() == before


# -- E004 counts what Django drops: a differential test on the database -----


def drop_models() -> ProjectState:
    """Models whose removals drop a column, a table or nothing."""
    fields: list[tuple[str, Any]] = [("id", models.AutoField(primary_key=True))]
    state = ProjectState()
    for model_state in (
        ModelState("testapp", "Tag", list(fields)),
        ModelState(
            "testapp",
            "Book",
            [
                *fields,
                ("isbn", models.CharField(max_length=13, null=True)),
                ("tags", models.ManyToManyField("testapp.Tag")),
                ("members", models.ManyToManyField("testapp.Tag", through="testapp.Member")),
            ],
        ),
        ModelState(
            "testapp",
            "Member",
            [
                *fields,
                ("book", models.ForeignKey("testapp.Book", models.CASCADE)),
                ("tag", models.ForeignKey("testapp.Tag", models.CASCADE)),
            ],
        ),
        ModelState(
            "testapp",
            "Chapter",
            [*fields, ("book", models.ForeignKey("testapp.Book", models.CASCADE))],
            {"order_with_respect_to": "book"},
        ),
        ModelState("testapp", "Stand", [], {"proxy": True}, bases=("testapp.book",)),
    ):
        state.add_model(model_state)
    return state


DROPPING = [
    operations.RemoveField("book", "isbn"),
    operations.RemoveField("book", "tags"),
    operations.RemoveField("book", "members"),  # its table is Member's
    operations.AlterOrderWithRespectTo("chapter", None),
    operations.DeleteModel("Stand"),  # a proxy
    operations.DeleteModel("Chapter"),
]


def test_e004_counts_what_django_drops(empty_testapp: None) -> None:
    state = drop_models()
    with connection.schema_editor() as editor:
        for model in state.apps.get_models():
            if not model._meta.proxy:
                editor.create_model(model)
    before = schema()
    for operation in DROPPING:
        migration = type("Migration", (Migration,), {"operations": [operation]})("0002", "testapp")
        drops = data_drops(migration, lambda key: state)
        after_state = state.clone()
        operation.state_forwards("testapp", after_state)
        with connection.schema_editor() as editor:
            operation.database_forwards("testapp", editor, state, after_state)
        after = schema()
        lost = {t for t in before if t not in after} | {
            f"{t}.{c}" for t in before if t in after for c in before[t] - after[t]
        }
        assert bool(drops) is bool(lost), (operation.describe(), lost)
        with connection.schema_editor() as editor:
            operation.database_backwards("testapp", editor, after_state, state)
    assert schema() == before
