"""Django's makemigrations options keep working, with stages written into the files.

These tests only write files (the database is read for the history
consistency check), so they need no transactional test database.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from django.core.management.base import CommandError
from django.db.migrations.loader import MigrationLoader

from green_makemigrations.constants import Stage

from .utils import APP_LABEL, MigrationModule, migration_module, run

pytestmark = pytest.mark.django_db

REMOVAL = ("initial", "remove_not_null")
BEFORE = ["0001_initial", "0002_book_subtitle"]
PREP = "0003_prepare_remove_book_subtitle"
DROP = "0004_remove_book_subtitle"


def stage_line(stage: Stage) -> str:
    return f"    stage = Stage.{stage.name}\n"


def new_files(module: MigrationModule, before: list[str]) -> list[str]:
    return [name for name in module.files() if name not in before]


def test_check_exits_1_and_writes_nothing() -> None:
    with migration_module(*REMOVAL) as module:
        output = run("makemigrations", APP_LABEL, check_changes=True, expect_exit=1)
        assert module.files() == BEFORE
        assert f"{PREP}.py" in output.stdout
        assert f"{DROP}.py" in output.stdout


def test_check_without_changes() -> None:
    with migration_module("initial"):
        assert "No changes detected\n" in run("makemigrations", check_changes=True).stdout
        output = run("makemigrations", APP_LABEL, check_changes=True)
        assert "No changes detected in app 'testapp'" in output.stdout


def test_dry_run_writes_nothing() -> None:
    with migration_module(*REMOVAL) as module:
        output = run("makemigrations", APP_LABEL, dry_run=True)
        assert module.files() == BEFORE
        assert f"{PREP}.py" in output.stdout
        assert "Full migrations file" not in output.stdout


def test_dry_run_verbosity_3_prints_the_files_with_their_stage() -> None:
    with migration_module(*REMOVAL) as module:
        output = run("makemigrations", APP_LABEL, dry_run=True, verbosity=3)
        assert module.files() == BEFORE
        prep_text, drop_text = output.stdout.split(f"Full migrations file '{DROP}.py':")
        assert f"Full migrations file '{PREP}.py':" in prep_text
        assert stage_line(Stage.PRE_DEPLOY) in prep_text
        assert "field=models.CharField(max_length=100, null=True)" in prep_text
        assert stage_line(Stage.POST_DEPLOY) in drop_text
        assert "migrations.RemoveField(" in drop_text
        assert "from green_makemigrations.constants import Stage" in drop_text


MERGES = pytest.mark.parametrize(
    ("fixture", "stage"),
    [
        # One branch removes a field: the merge cannot run before it.
        ("merge_post", Stage.POST_DEPLOY),
        ("merge_pre", Stage.PRE_DEPLOY),
    ],
)


@MERGES
def test_merge_dry_run_prints_the_stage_of_its_parents(fixture: str, stage: Stage) -> None:
    with migration_module("initial", fixture) as module:
        before = module.files()
        with pytest.raises(CommandError, match="Conflicting migrations detected"):
            run("makemigrations", APP_LABEL, interactive=False)

        output = run("makemigrations", merge=True, dry_run=True, verbosity=3, interactive=False)
        assert module.files() == before
        _, text = output.stdout.split("Full merge migrations file '0003_merge_0002_book_isbn_0002_")
        assert stage_line(stage) in text
        for leaf in before[1:]:
            assert f"('testapp', '{leaf}')" in text


@MERGES
def test_merge_writes_a_merge_migration_with_the_stage_of_its_parents(
    fixture: str, stage: Stage
) -> None:
    with migration_module("initial", fixture) as module:
        before = module.files()
        leaves = {(APP_LABEL, name) for name in before if name.startswith("0002_")}
        run("makemigrations", merge=True, interactive=False)
        [merge] = new_files(module, before)
        assert merge.startswith("0003_merge_")
        assert stage_line(stage) in module.read(merge)
        migration = module.load(merge).Migration
        assert migration.stage is stage
        assert set(migration.dependencies) == leaves
        graph = MigrationLoader(None, ignore_no_migrations=True).graph
        assert graph.leaf_nodes(APP_LABEL) == [(APP_LABEL, merge)]


@pytest.mark.parametrize(
    ("fixture", "name", "stage"),
    [
        (("initial",), "0002_data_fix", Stage.PRE_DEPLOY),
        # After a drop (inferred post-deploy), an empty migration can only run
        # in the post-deploy stage.
        (("initial", "unstaged"), "0004_data_fix", Stage.POST_DEPLOY),
    ],
)
def test_empty_with_name(fixture: tuple[str, ...], name: str, stage: Stage) -> None:
    with migration_module(*fixture) as module:
        before = module.files()
        run("makemigrations", APP_LABEL, empty=True, name="data_fix")
        assert new_files(module, before) == [name]
        text = module.read(name)
        assert "operations = [\n    ]" in text
        assert stage_line(stage) in text
        assert module.load(name).Migration.stage is stage


def test_name_names_both_migrations() -> None:
    with migration_module(*REMOVAL) as module:
        run("makemigrations", APP_LABEL, name="drop_subtitle", interactive=False)
        assert new_files(module, BEFORE) == ["0003_drop_subtitle", "0004_drop_subtitle"]
        pre = module.load("0003_drop_subtitle").Migration
        post = module.load("0004_drop_subtitle").Migration
        assert (pre.stage, post.stage) == (Stage.PRE_DEPLOY, Stage.POST_DEPLOY)
        assert post.dependencies == [(APP_LABEL, "0003_drop_subtitle")]


def test_invalid_name_is_refused() -> None:
    with migration_module(*REMOVAL) as module:
        with pytest.raises(CommandError, match="valid Python identifier"):
            run("makemigrations", APP_LABEL, name="drop-subtitle", interactive=False)
        assert module.files() == BEFORE


def test_update_when_the_stages_match() -> None:
    # The leaf (an AlterField, inferred pre-deploy) and the change (AlterField
    # back to models.py) are both pre-deploy.
    with migration_module("initial", "alter_summary") as module:
        output = run("makemigrations", APP_LABEL, update=True, interactive=False)
        assert module.files() == ["0001_initial", "0002_alter_book_summary_updated"]
        assert "Deleted " in output.stdout
        text = module.read("0002_alter_book_summary_updated")
        assert stage_line(Stage.PRE_DEPLOY) in text
        assert "field=models.TextField(blank=True, null=True)" in text
        assert "CharField" not in text
        assert "No changes detected" in run("makemigrations", APP_LABEL).stdout


@pytest.mark.parametrize(
    ("fixture", "leaf", "leaf_stage", "needed"),
    [
        # A pre-deploy leaf cannot take a drop.
        ("remove_not_null", "0002_book_subtitle", "pre-deploy", "post-deploy"),
        # A post-deploy leaf cannot take a pre-deploy change (re-adding summary).
        ("remove_summary", "0002_remove_book_summary", "post-deploy", "pre-deploy"),
    ],
)
def test_update_refuses_to_mix_stages(
    fixture: str, leaf: str, leaf_stage: str, needed: str
) -> None:
    with migration_module("initial", fixture) as module:
        before = module.files()
        text = module.read(leaf)
        message = (
            f"--update cannot add these changes to testapp.{leaf}: it is {leaf_stage} "
            f"and the changes need a {needed} step"
        )
        with pytest.raises(CommandError, match=message):
            run("makemigrations", APP_LABEL, update=True, interactive=False)
        assert module.files() == before
        assert module.read(leaf) == text


def test_noinput_takes_the_nullable_fallback_and_says_so() -> None:
    with migration_module(*REMOVAL) as module:
        output = run("makemigrations", APP_LABEL, interactive=False)
        assert (
            "testapp.book.subtitle: it has no default, so the column is made nullable "
            "until the drop." in output.stdout
        )
        assert new_files(module, BEFORE) == [PREP, DROP]


def test_interactive_default_answer_is_the_nullable_fallback() -> None:
    with migration_module(*REMOVAL) as module, mock.patch("builtins.input", return_value=""):
        output = run("makemigrations", APP_LABEL)
        assert "Please select a fix:" in output.stdout
        assert new_files(module, BEFORE) == [PREP, DROP]
        assert "null=True" in module.read(PREP)


def test_interactive_quit_writes_nothing() -> None:
    with migration_module(*REMOVAL) as module, mock.patch("builtins.input", return_value="2"):
        with pytest.raises(SystemExit) as exit_info:
            run("makemigrations", APP_LABEL)
        assert exit_info.value.code == 3
        assert module.files() == BEFORE


def test_scriptable_prints_paths_on_stdout_and_logs_on_stderr() -> None:
    with migration_module(*REMOVAL) as module:
        output = run("makemigrations", APP_LABEL, scriptable=True, interactive=False)
        paths = [Path(line) for line in output.stdout.splitlines()]
        assert [path.resolve() for path in paths] == [
            (module.path / f"{name}.py").resolve() for name in (PREP, DROP)
        ]
        assert "Migrations for 'testapp':" in output.stderr
        assert "made nullable until the drop" in output.stderr


def test_app_labels() -> None:
    with migration_module(*REMOVAL) as module:
        output = run("makemigrations", "auth", interactive=False)
        assert "No changes detected in app 'auth'" in output.stdout
        assert module.files() == BEFORE

        output = run("makemigrations", "nosuchapp", expect_exit=2)
        assert "No installed app with label 'nosuchapp'." in output.stderr
        assert module.files() == BEFORE

        run("makemigrations", "auth", APP_LABEL, interactive=False)
        assert new_files(module, BEFORE) == [PREP, DROP]


def test_stock_writes_djangos_single_migration() -> None:
    with migration_module(*REMOVAL) as module:
        run("makemigrations", APP_LABEL, stock=True, interactive=False)
        [name] = new_files(module, BEFORE)
        assert name == "0003_remove_book_subtitle"
        text = module.read(name)
        assert "migrations.RemoveField(" in text
        assert "AlterField" not in text
        assert "stage" not in text
        assert "green_makemigrations" not in text
        assert not hasattr(module.load(name).Migration, "stage")
