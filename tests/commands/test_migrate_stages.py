"""migrate --stage: plans, refusals, warnings, inferred stages and a release of several PRs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.models.signals import post_migrate
from django.test.utils import override_settings

from green_makemigrations.constants import Stage
from green_makemigrations.executor import StagedMigrationExecutor
from green_makemigrations.plan import warnings
from tests.testapp import models as new_release

from .test_type_changes import INITIAL as RETYPE_INITIAL
from .utils import (
    APP_LABEL,
    app_with_history,
    applied,
    columns,
    historical_apps,
    migration_module,
    run,
)

pytestmark = pytest.mark.django_db(transaction=True)


def left_for_post_deploy(stdout: str) -> list[str]:
    """Return the migrations migrate listed under "Left for the post-deploy stage:"."""
    _, _, tail = stdout.partition("Left for the post-deploy stage:\n")
    return [line.strip() for line in tail.splitlines() if line.startswith("  ")]


def test_plan_lists_only_the_stage(empty_testapp: None) -> None:
    with migration_module("initial", "remove_not_null"):
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        # Release N is deployed (an app with no migration applied runs whole:
        # see test_first_deploy).
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)

        output = run("migrate", APP_LABEL, plan=True, stage="pre-deploy")
        listed = [line for line in output.stdout.splitlines() if line.startswith("testapp.")]
        assert listed == [
            "testapp.0002_book_subtitle",
            "testapp.0003_prepare_remove_book_subtitle",
        ]
        assert "Alter field subtitle on book" in output.stdout
        assert "0004_remove_book_subtitle" not in output.stdout.split("Left for")[0]

        output = run("migrate", APP_LABEL, plan=True, stage="post-deploy")
        assert "testapp.0004_remove_book_subtitle\n    Remove field subtitle from book" in (
            output.stdout
        )
        assert applied() == {"0001_initial"}
        assert "subtitle" not in columns("testapp_book")


def test_pre_deploy_stage_blocked_by_a_pending_post_deploy_migration(empty_testapp: None) -> None:
    # 0004_book_note says it is pre-deploy but depends on 0003, a drop.
    with migration_module("initial", "blocked"):
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        with pytest.raises(CommandError) as error:
            run("migrate", APP_LABEL, stage="pre-deploy")
        message = str(error.value)
        assert "The pre-deploy stage cannot run" in message
        assert "Nothing was changed." in message
        assert (
            "testapp.0004_book_note depends on testapp.0003_remove_book_isbn "
            "(post-deploy, inferred)" in message
        )
        # Not even 0002, which the stage could have applied.
        assert applied() == {"0001_initial"}
        assert "isbn" not in columns("testapp_book")

        # The post-deploy stage runs everything, in order.
        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert applied() == {
            "0001_initial",
            "0002_book_isbn",
            "0003_remove_book_isbn",
            "0004_book_note",
        }
        assert set(columns("testapp_book")) == {"id", "title", "summary", "note"}


@pytest.mark.parametrize("stage", ["pre-deploy", "post-deploy"])
def test_both_stages_refuse_a_drop_written_pre_deploy(empty_testapp: None, stage: str) -> None:
    # The pre-deploy stage would drop what the running release uses; the
    # post-deploy stage would apply what the pre-deploy stage refused.
    with migration_module("initial", "unsafe"):
        with pytest.raises(CommandError) as error:
            run("migrate", APP_LABEL, stage=stage)
        message = str(error.value)
        assert message.startswith(
            f"The {stage} stage cannot run: testapp.0003_remove_book_isbn breaks a stage rule"
        )
        assert "Nothing was changed." in message
        assert (
            "Migration testapp.0003_remove_book_isbn is pre-deploy (written) but drops data: "
            "Remove field isbn from book." in message
        )
        assert "Mark the migration `stage = Stage.POST_DEPLOY`" in message
        with pytest.raises(CommandError, match="breaks a stage rule"):
            run("migrate", APP_LABEL, stage=stage, plan=True)
        assert applied() == set()


def test_unwritten_stage_is_inferred_and_settings_override_it(empty_testapp: None) -> None:
    # 0002_book_isbn adds a column (inferred pre-deploy), 0003 drops it
    # (inferred post-deploy); neither writes a stage.
    with migration_module("initial", "unstaged"):
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        # A per-migration setting keeps the AddField for the post-deploy stage.
        stages = {"STAGES": {"testapp.0002_book_isbn": Stage.POST_DEPLOY.value}}
        with override_settings(GREEN_MAKEMIGRATIONS=stages):
            output = run("migrate", APP_LABEL, stage="pre-deploy")
        assert applied() == {"0001_initial"}
        assert left_for_post_deploy(output.stdout) == [
            "testapp.0002_book_isbn",
            "testapp.0003_remove_book_isbn",
        ]

        # Overriding the drop to pre-deploy does not make the stage drop data.
        with override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {APP_LABEL: "pre-deploy"}}):
            with pytest.raises(CommandError, match="but drops data"):
                run("migrate", APP_LABEL, stage="pre-deploy")
        assert applied() == {"0001_initial"}
        assert "isbn" not in columns("testapp_book")

        # Inferred: the AddField runs, the RemoveField waits.
        output = run("migrate", APP_LABEL, stage="pre-deploy")
        assert applied() == {"0001_initial", "0002_book_isbn"}
        assert left_for_post_deploy(output.stdout) == ["testapp.0003_remove_book_isbn"]
        assert "isbn" in columns("testapp_book")

        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert applied() == {"0001_initial", "0002_book_isbn", "0003_remove_book_isbn"}
        assert "isbn" not in columns("testapp_book")


def test_release_of_several_pull_requests(empty_testapp: None) -> None:
    # Release N is deployed (0001). Pull request 1 removed Book.subtitle
    # (0002 prep, 0003 drop, both unapplied); pull request 2 adds
    # Book.summary (the change makemigrations finds in models.py).
    with migration_module("multi_pr") as module:
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        historical_apps("0001_initial").get_model(APP_LABEL, "Book").objects.create(
            title="old", subtitle="sub"
        )

        output = run("makemigrations", APP_LABEL, interactive=False)
        assert (
            "testapp.0005_post_deploy_merge joins 0004_book_summary (pre-deploy) with "
            "0003_remove_book_subtitle (post-deploy)" in output.stdout
        )
        assert module.files() == [
            "0001_initial",
            "0002_prepare_remove_book_subtitle",
            "0003_remove_book_subtitle",
            "0004_book_summary",
            "0005_post_deploy_merge",
        ]
        summary = module.load("0004_book_summary").Migration
        assert summary.stage is Stage.PRE_DEPLOY
        # Beside the pending drop, not after it.
        assert summary.dependencies == [(APP_LABEL, "0002_prepare_remove_book_subtitle")]
        merge = module.load("0005_post_deploy_merge").Migration
        assert merge.stage is Stage.POST_DEPLOY
        assert set(merge.dependencies) == {
            (APP_LABEL, "0004_book_summary"),
            (APP_LABEL, "0003_remove_book_subtitle"),
        }
        assert "    stage = Stage.POST_DEPLOY\n" in module.read("0005_post_deploy_merge")
        graph = MigrationLoader(connection).graph
        assert graph.leaf_nodes(APP_LABEL) == [(APP_LABEL, "0005_post_deploy_merge")]

        output = run("migrate", APP_LABEL, stage="pre-deploy")
        assert applied() == {
            "0001_initial",
            "0002_prepare_remove_book_subtitle",
            "0004_book_summary",
        }
        assert left_for_post_deploy(output.stdout) == [
            "testapp.0003_remove_book_subtitle",
            "testapp.0005_post_deploy_merge",
        ]
        book_columns = columns("testapp_book")
        assert book_columns["subtitle"].null_ok
        assert "summary" in book_columns
        # The new release writes summaries, without subtitles.
        new_release.Book.objects.create(title="new", summary="A summary.")

        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert applied() == {
            "0001_initial",
            "0002_prepare_remove_book_subtitle",
            "0003_remove_book_subtitle",
            "0004_book_summary",
            "0005_post_deploy_merge",
        }
        assert set(columns("testapp_book")) == {"id", "title", "summary"}
        assert sorted(new_release.Book.objects.values_list("title", flat=True)) == ["new", "old"]
        assert "No changes detected" in run("makemigrations", APP_LABEL, check_changes=True).stdout


@pytest.mark.parametrize(
    ("history", "refused", "isbn_kept"),
    [("separate_drop", True, True), ("separate_state_only", False, True)],
)
def test_drops_are_seen_inside_separate_database_and_state(
    empty_testapp: None, history: str, refused: bool, isbn_kept: bool
) -> None:
    with migration_module("initial", history):
        for stage in ("pre-deploy", "post-deploy"):
            if refused:
                with pytest.raises(CommandError, match="Remove field isbn from book \\(in a Sep"):
                    run("migrate", APP_LABEL, stage=stage)
            else:
                run("migrate", APP_LABEL, stage=stage, verbosity=0)
        assert ("0003_remove_book_isbn" not in applied()) is refused
        if not refused:
            assert ("isbn" in columns("testapp_book")) is isbn_kept


@pytest.mark.parametrize(("history", "number"), [("runsql_drop", "W001"), ("hand_rename", "W002")])
def test_stage_plan_carries_the_warnings(empty_testapp: None, history: str, number: str) -> None:
    # What `migrate --stage` prints: the executor it runs keeps the stage plan.
    with migration_module("initial", history) as module:
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        for stage in Stage:
            executor = StagedMigrationExecutor(connection, stage=stage)
            executor.migration_plan(executor.loader.graph.leaf_nodes(APP_LABEL))
            [line] = warnings(executor.stage_plan)
            assert line.startswith(
                f"Warning (green_makemigrations.{number}): Migration testapp.{module.files()[-1]} "
            )
        printed = run("migrate", APP_LABEL, stage="pre-deploy", plan=True).stdout
        assert printed.count(f"Warning (green_makemigrations.{number}): ") == 1
        if history == "runsql_drop":
            # A RunSQL's effect cannot be read from it: the proof stops the stage
            # unless it declares its effect or is accepted (test_verifystages).
            # (The hand-written rename is proven: the old release never had isbn.)
            with pytest.raises(CommandError, match=r"NOT PROVEN testapp\.0003_remove_book_isbn"):
                run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)
        # Before anything is applied, whatever the verbosity.
        printed = run(
            "migrate", APP_LABEL, stage="pre-deploy", verbosity=0, skip_verify=True
        ).stdout
        assert printed.startswith(f"Warning (green_makemigrations.{number}): ")
        assert "isbn" not in columns("testapp_book")
        executor = StagedMigrationExecutor(connection, stage=Stage.POST_DEPLOY)
        executor.migration_plan(executor.loader.graph.leaf_nodes(APP_LABEL))
        assert warnings(executor.stage_plan) == []


def test_migrate_mentions_a_change_makemigrations_would_refuse(tmp_path: Path) -> None:
    # The models changed in a way makemigrations refuses (text to bigint): a
    # migrate run with nothing to apply says so, as Django's does, and goes on
    # to its post_migrate signal instead of stopping with the refusal.
    initial = RETYPE_INITIAL.replace(
        '("reading", models.IntegerField())', '("reading", models.CharField(max_length=10))'
    )
    received: list[str] = []

    def receiver(app_config: Any, **kwargs: Any) -> None:
        received.append(app_config.label)

    with app_with_history(tmp_path, "retype_app", initial):
        with pytest.raises(CommandError, match="Changing the type of retype_app.meter.reading"):
            run("makemigrations", "retype_app", interactive=False, dry_run=True)
        post_migrate.connect(receiver)
        try:
            output = run("migrate", "retype_app")
        finally:
            post_migrate.disconnect(receiver)
    assert "No migrations to apply." in output.stdout
    assert "Your models in app(s): 'retype_app' have changes" in output.stdout
    assert "retype_app" in received
