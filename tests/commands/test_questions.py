"""makemigrations' questions on a scripted, exhausted or closed standard input.

Every question has a default: the end of input takes it, and so do too many
invalid answers in a row (the command says so); neither waits for ever nor
ends in a traceback. The scripts are real standard input (``sys.stdin``
replaced), read by ``input()`` as a pipe would be.

Also here: ``--dry-run`` and ``--check`` never refuse a NOT NULL field added
without a default (the interactive run asks for a one-off default instead),
and ``--update`` gives Django's own refusals before the package's.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import extend_sys_path, modify_settings, override_settings

from green_makemigrations.constants import Stage
from green_makemigrations.questioner import MAX_RETRIES

from .test_makemigrations_deployed import no_migrations_table
from .utils import (
    APP_LABEL,
    MigrationModule,
    applied,
    columns,
    execute,
    migration_module,
    run,
    select,
)

pytestmark = pytest.mark.django_db

REMOVAL = ("initial", "remove_not_null")
BEFORE_REMOVAL = ["0001_initial", "0002_book_subtitle"]
PREP = "0003_prepare_remove_book_subtitle"
DROP = "0004_remove_book_subtitle"
ADDITION = ("initial", "add_not_null")
BEFORE_ADDITION = ["0001_initial", "0002_remove_book_title"]
ATTEMPTS = MAX_RETRIES + 1
END_OF_INPUT = "No input (end of file): using the default"
TOO_MANY = f"No valid answer after {ATTEMPTS} attempts: using the default"


class EndlessInput(io.StringIO):
    """A standard input that repeats one line for ever (``yes 9 |``)."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line
        self.lines_read = 0

    def readline(self, size: int | None = -1) -> str:
        self.lines_read += 1
        # A question asked for ever fails here, not by filling the memory
        # with its prompts.
        assert self.lines_read <= 1000, "the question is asked for ever"
        return self.line


class NoReading(io.StringIO):
    """A standard input that fails the test if anything reads it."""

    def readline(self, size: int | None = -1) -> str:
        raise AssertionError("a question was asked")


@dataclass
class Stdin:
    """The standard input of the commands a test runs."""

    monkeypatch: pytest.MonkeyPatch

    def script(self, text: str) -> None:
        """Make standard input hold text, then end."""
        self.monkeypatch.setattr("sys.stdin", io.StringIO(text))

    def use(self, stream: io.StringIO) -> None:
        """Make standard input read from stream."""
        self.monkeypatch.setattr("sys.stdin", stream)


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Stdin:
    """Let a test script the standard input."""
    return Stdin(monkeypatch)


def new_files(module: MigrationModule, before: list[str]) -> list[str]:
    return [name for name in module.files() if name not in before]


# -- the package's own question: the nullable fallback of a removed field ------


@dataclass(frozen=True)
class Script:
    """Standard input for the fallback question, and what the command does with it."""

    text: str
    exit_code: int | None  # None: the command writes the phased migrations
    notice: str | None  # what the command says about taking the default
    reprompts: int


FALLBACK_SCRIPTS = {
    "empty answer": Script("\n", None, None, 0),
    "closed stdin": Script("", None, f"{END_OF_INPUT}, option 1.", 0),
    "invalid, then end of input": Script("9\n", None, f"{END_OF_INPUT}, option 1.", 1),
    "invalid, then valid": Script("x\n0\n1\n", None, None, 2),
    "only invalid answers": Script("9\n" * ATTEMPTS, None, f"{TOO_MANY}, option 1.", ATTEMPTS),
    "invalid, then quit": Script("9\n2\n", 3, None, 1),
}


@pytest.mark.parametrize("script", FALLBACK_SCRIPTS.values(), ids=FALLBACK_SCRIPTS)
def test_fallback_question_on_scripted_stdin(stdin: Stdin, script: Script) -> None:
    stdin.script(script.text)
    with migration_module(*REMOVAL) as module:
        if script.exit_code is not None:
            with pytest.raises(SystemExit) as exit_info:
                run("makemigrations", APP_LABEL)
            assert exit_info.value.code == script.exit_code
            assert module.files() == BEFORE_REMOVAL
            return
        output = run("makemigrations", APP_LABEL)
        assert "Removing 'subtitle' from testapp.book" in output.stdout
        assert output.stdout.count("Please select a valid option: ") == script.reprompts
        if script.notice is None:
            assert "using the default" not in output.stdout
        else:
            assert script.notice in output.stdout
        assert new_files(module, BEFORE_REMOVAL) == [PREP, DROP]
        assert "field=models.CharField(max_length=100, null=True)" in module.read(PREP)


def test_fallback_question_on_endless_invalid_input(stdin: Stdin) -> None:
    endless = EndlessInput("9\n")
    stdin.use(endless)
    with migration_module(*REMOVAL) as module:
        output = run("makemigrations", APP_LABEL)
        assert endless.lines_read == ATTEMPTS
        assert f"{TOO_MANY}, option 1." in output.stdout
        assert new_files(module, BEFORE_REMOVAL) == [PREP, DROP]


# -- Django's questions, asked through the same bounded prompts -----------------


@dataclass(frozen=True)
class Addition:
    """Standard input for Django's one-off default questions of an added NOT NULL field."""

    text: str
    exit_code: int | None  # None: written, with db_default
    notice: str | None
    db_default: str = ""


ADDITION_SCRIPTS = {
    "one-off default": Addition("1\n'Untitled'\n", None, None, "db_default='Untitled'"),
    "invalid choice, then default": Addition("7\n1\n't'\n", None, None, "db_default='t'"),
    "invalid code, then default": Addition("1\n1/0\n'x'\n", None, None, "db_default='x'"),
    # Django's choice gives no default: its last option, quit, is the default.
    "closed stdin": Addition("", 3, f"{END_OF_INPUT}, option 2."),
    "only invalid choices": Addition("7\n" * ATTEMPTS, 3, f"{TOO_MANY}, option 2."),
    # The one-off default itself has no default: quit, as "exit" does.
    "end of input at the default": Addition("1\n", 1, f"{END_OF_INPUT}, none: quitting."),
    "only invalid code": Addition("1\n" + "1/0\n" * ATTEMPTS, 1, f"{TOO_MANY}, none: quitting."),
}


@pytest.mark.parametrize("script", ADDITION_SCRIPTS.values(), ids=ADDITION_SCRIPTS)
def test_djangos_one_off_default_question_on_scripted_stdin(
    stdin: Stdin, capsys: pytest.CaptureFixture[str], script: Addition
) -> None:
    stdin.script(script.text)
    with migration_module(*ADDITION) as module:
        if script.exit_code is not None:
            stdout = io.StringIO()
            with pytest.raises(SystemExit) as exit_info:
                call_command("makemigrations", APP_LABEL, stdout=stdout, no_color=True)
            assert exit_info.value.code == script.exit_code
            assert script.notice is not None
            assert script.notice in stdout.getvalue()
            assert module.files() == BEFORE_ADDITION
            return
        output = run("makemigrations", APP_LABEL)
        assert "It is impossible to add a non-nullable field 'title' to book" in output.stdout
        assert "using the default" not in output.stdout
        pre, post = (module.read(name) for name in new_files(module, BEFORE_ADDITION))
        assert f"    stage = Stage.{Stage.PRE_DEPLOY.name}\n" in pre
        assert script.db_default in pre
        assert f"    stage = Stage.{Stage.POST_DEPLOY.name}\n" in post
        assert "db_default" not in post


# -- --dry-run and --check: never refuse what the interactive run accepts ------


@pytest.mark.parametrize(
    ("options", "exit_code"),
    [
        ({"dry_run": True}, None),
        ({"check_changes": True}, 1),
        ({"dry_run": True, "verbosity": 3}, None),
        # Without questions, Django quits: it cannot ask for the one-off default.
        ({"dry_run": True, "interactive": False}, 3),
        ({"check_changes": True, "interactive": False}, 3),
    ],
    ids=["dry-run", "check", "dry-run-verbosity-3", "dry-run-noinput", "check-noinput"],
)
def test_dry_run_and_check_accept_a_not_null_field_without_default(
    stdin: Stdin, options: dict[str, object], exit_code: int | None
) -> None:
    with migration_module(*ADDITION) as module:
        stdin.use(NoReading())
        # Stock Django, the reference: same exit, nothing written.
        stock = run("makemigrations", APP_LABEL, stock=True, expect_exit=exit_code, **options)
        assert module.files() == BEFORE_ADDITION
        output = run("makemigrations", APP_LABEL, expect_exit=exit_code, **options)
        assert module.files() == BEFORE_ADDITION
        if exit_code == 3:
            assert output.stdout == stock.stdout
            return
        assert "+ Add field title to book" in output.stdout
        assert "testapp.book.title: NOT NULL without a default." in output.stdout
        assert "asks for a one-off default" in output.stdout


def test_dry_run_refuses_what_the_interactive_run_refuses(stdin: Stdin) -> None:
    # A default the database cannot compute (additions_app's Widget.serial =
    # make_serial) is refused whatever the run: nothing is asked about it.
    stdin.use(NoReading())
    with (
        modify_settings(INSTALLED_APPS={"append": "tests.commands.additions_app"}),
        migration_module("additions", "addition_refused", app_label="green_add") as module,
    ):
        before = module.files()
        # (The real run without --noinput would first ask Django's question about
        # the unique field with a callable default added beside it.)
        for options in ({"dry_run": True}, {"check_changes": True}, {"interactive": False}):
            with pytest.raises(CommandError, match="make_serial.* cannot be computed"):
                run("makemigrations", "green_add", **options)
        assert module.files() == before


@pytest.mark.django_db(transaction=True)
def test_the_real_run_after_a_dry_run_writes_migrations_that_apply(
    stdin: Stdin, empty_testapp: None
) -> None:
    with migration_module(*ADDITION) as module:
        stdin.use(NoReading())
        run("makemigrations", APP_LABEL, dry_run=True)
        stdin.script("1\n'Untitled'\n")
        run("makemigrations", APP_LABEL)
        pre, post = new_files(module, BEFORE_ADDITION)
        run("migrate", APP_LABEL, BEFORE_ADDITION[-1], verbosity=0)
        assert "title" not in columns("testapp_book")
        run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)
        assert applied() == {*BEFORE_ADDITION, pre}
        # The previous release's inserts, which omit title, get the one-off default.
        execute("INSERT INTO testapp_book (summary) VALUES ('old release')")
        assert select("SELECT title FROM testapp_book WHERE summary = 'old release'") == [
            ("Untitled",)
        ]
        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert applied() == {*BEFORE_ADDITION, pre, post}
        run("migrate", APP_LABEL, "0002_remove_book_title", verbosity=0)
        assert applied() == set(BEFORE_ADDITION)
        assert "title" not in columns("testapp_book")


# -- --update: Django's own refusals come first ----------------------------------

SQUASHED = """
import importlib

from django.db import migrations

_initial = importlib.import_module(__package__ + ".0001_initial").Migration
_second = importlib.import_module(__package__ + ".0002_book_subtitle").Migration


class Migration(migrations.Migration):
    replaces = [("testapp", "0001_initial"), ("testapp", "0002_book_subtitle")]
    initial = True
    dependencies = []
    operations = [*_initial.operations, *_second.operations]
"""

DEPENDING = """
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = [("testapp", "0002_book_subtitle")]
    operations = []
"""


def add_squashed(module: MigrationModule) -> str:
    (module.path / "0001_squashed_0002_book_subtitle.py").write_text(SQUASHED)
    return "Cannot update squash migration 'testapp.0001_squashed_0002_book_subtitle'."


def record_applied(module: MigrationModule) -> str:
    recorder = MigrationRecorder.Migration.objects
    recorder.create(app=APP_LABEL, name="0001_initial")
    recorder.create(app=APP_LABEL, name="0002_book_subtitle")
    return "Cannot update applied migration 'testapp.0002_book_subtitle'."


UPDATE_REFUSALS = {"squashed": add_squashed, "applied": record_applied}


@pytest.mark.parametrize("make_leaf", UPDATE_REFUSALS.values(), ids=UPDATE_REFUSALS)
def test_update_gives_djangos_refusal_first(
    stdin: Stdin, make_leaf: Callable[[MigrationModule], str]
) -> None:
    # The changes (the removal's pre-deploy prep and post-deploy drop) would
    # also mix stages in the leaf: Django's refusal must be the one given.
    # Finding the changes asks the removal's question first (as Django asks
    # its own one-off default questions before it refuses): its default.
    stdin.script("\n")
    with migration_module(*REMOVAL) as module:
        message = make_leaf(module)
        before = {path.name: path.read_text() for path in module.path.glob("*.py")}
        for options in ({}, {"stock": True}):
            stdin.script("\n")
            with pytest.raises(CommandError) as error:
                run("makemigrations", APP_LABEL, update=True, **options)
            assert str(error.value) == message
        assert {path.name: path.read_text() for path in module.path.glob("*.py")} == before


def test_update_gives_djangos_refusal_of_a_depended_on_migration(
    stdin: Stdin, tmp_path: Path
) -> None:
    stdin.script("\n")
    other = tmp_path / "unique_app_history" / "migrations"
    other.mkdir(parents=True)
    (other.parent / "__init__.py").touch()
    (other / "__init__.py").touch()
    (other / "0001_initial.py").write_text(DEPENDING)
    with migration_module(*REMOVAL) as module:
        with (
            extend_sys_path(str(tmp_path)),
            modify_settings(INSTALLED_APPS={"append": "tests.commands.unique_app"}),
            override_settings(
                MIGRATION_MODULES={
                    **settings.MIGRATION_MODULES,
                    "unique_app": "unique_app_history.migrations",
                }
            ),
        ):
            with pytest.raises(CommandError) as error:
                run("makemigrations", APP_LABEL, update=True)
        assert str(error.value) == (
            "Cannot update migration 'testapp.0002_book_subtitle' that migrations "
            "'unique_app.0001_initial' depend on."
        )
        assert module.files() == BEFORE_REMOVAL


NARROWER_NAME = """
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("testapp", "0002_book_subtitle")]
    operations = [migrations.AlterField("author", "name", models.CharField(max_length=50))]
"""
PENDING_DROP = """
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("testapp", "0003_narrower_name")]
    operations = [migrations.RemoveField("book", "subtitle")]
"""
PENDING_QUESTION = "The latest migration of 'testapp', 0004_pending_drop, is post-deploy."


@pytest.mark.parametrize(
    ("options", "asked"),
    [({}, True), ({"update": True}, False)],
    ids=["plain", "update"],
)
def test_pending_deployed_is_not_asked_under_update(
    stdin: Stdin, options: dict[str, object], asked: bool
) -> None:
    # The leaf drops a field (post-deploy, maybe pending) and the change widens
    # another model's column (pre-deploy). A plain run asks whether the leaf ran
    # everywhere, to place the new migration beside it; with --update the
    # change goes into the leaf or is refused, so the answer cannot matter.
    with migration_module(*REMOVAL) as module:
        (module.path / "0003_narrower_name.py").write_text(NARROWER_NAME)
        (module.path / "0004_pending_drop.py").write_text(PENDING_DROP)
        before = module.files()
        stdin.use(NoReading() if not asked else io.StringIO(""))
        if asked:
            # Only a database that cannot tell whether the leaf ran leaves a
            # question (one that can gives the answer: see
            # test_makemigrations_deployed.py).
            with no_migrations_table():
                output = run("makemigrations", APP_LABEL, **options)
            assert PENDING_QUESTION in output.stdout
            assert f"{END_OF_INPUT}, no." in output.stdout
            assert len(new_files(module, before)) == 2  # beside the leaf, and a merge
        else:
            with pytest.raises(CommandError, match="--update cannot add these changes"):
                run("makemigrations", APP_LABEL, **options)
            assert module.files() == before
