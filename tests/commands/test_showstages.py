"""showstages: the pending plan split by stage, as text and as JSON."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.test.utils import override_settings

from green_makemigrations.constants import Stage

from .utils import APP_LABEL, applied, columns, migration_module, run, tables


def report(*args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run("showstages", *args, format="json").stdout)
    return data


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["migration"] for entry in entries]


@pytest.mark.django_db(transaction=True)
def test_showstages_follows_the_stages(empty_testapp: None) -> None:
    # The previous release has a db_column field, a many-to-many and a field
    # of a model with a custom db_table; the new release removed all three.
    with migration_module("initial", "showstages") as module:
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        pre, post = (f"testapp.{name}" for name in module.files()[2:])

        data = report(APP_LABEL)
        assert data["database"] == "default"
        assert data["blocked"] == []
        assert names(data["pre_deploy"]) == [pre]
        assert names(data["post_deploy"]) == [post]
        [pre_entry], [post_entry] = data["pre_deploy"], data["post_deploy"]
        assert (pre_entry["stage"], pre_entry["stage_source"]) == ("pre_deploy", "written")
        assert (post_entry["stage"], post_entry["stage_source"]) == ("post_deploy", "written")
        assert pre_entry["operations"] == [
            {"type": "AlterField", "description": "Alter field legacy on book"}
        ]
        drops = {
            (operation["type"], operation["table"], operation.get("column"))
            for operation in post_entry["operations"]
        }
        assert drops == {
            ("RemoveField", "testapp_book_tags", None),
            ("RemoveField", "green_cmd_shelf", "label"),
            ("RemoveField", "testapp_book", "legacy_code"),
        }
        # The names are the database's own.
        for _type, table, column in drops:
            assert table in tables()
            if column is not None:
                assert column in columns(table)

        text = run("showstages").stdout
        assert "Pre-deploy stage (migrate --stage pre-deploy):\n" in text
        assert f"  {pre}  [pre-deploy, written]\n    Alter field legacy on book\n" in text
        assert "Post-deploy stage (migrate --stage post-deploy):\n" in text
        assert f"  {post}  [post-deploy, written]\n" in text
        assert "    Remove field legacy from book\n" in text
        assert "Nothing to apply." not in text

        run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)
        data = report()
        assert (names(data["pre_deploy"]), names(data["post_deploy"])) == ([], [post])
        assert "Pre-deploy stage (migrate --stage pre-deploy):\n  Nothing to apply.\n" in (
            run("showstages").stdout
        )

        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        data = report()
        assert (data["pre_deploy"], data["post_deploy"]) == ([], [])
        assert run("showstages").stdout.count("Nothing to apply.") == 2
        assert "testapp_book_tags" not in tables()
        assert "label" not in columns("green_cmd_shelf")
        assert "legacy_code" not in columns("testapp_book")


@pytest.mark.django_db(transaction=True)
def test_showstages_reports_blocked_migrations_and_stage_sources(empty_testapp: None) -> None:
    with migration_module("initial", "blocked"):
        # Release N is deployed: the app's stages apply (see test_first_deploy).
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        data = report()
        assert data["blocked"] == [
            {"migration": "testapp.0004_book_note", "blocked_by": "testapp.0003_remove_book_isbn"}
        ]
        sources = {
            entry["name"]: (entry["stage"], entry["stage_source"], entry["blocked_by"])
            for entry in data["pre_deploy"] + data["post_deploy"]
        }
        assert sources == {
            "0002_book_isbn": ("pre_deploy", "inferred", None),
            "0003_remove_book_isbn": ("post_deploy", "inferred", None),
            "0004_book_note": ("pre_deploy", "written", "testapp.0003_remove_book_isbn"),
        }
        # migrate --stage pre-deploy refuses the plan: it applies nothing, and
        # the post-deploy stage would apply everything.
        assert names(data["pre_deploy"]) == []
        assert data["refused"]["pre_deploy"].startswith("The pre-deploy stage cannot run")
        assert names(data["post_deploy"]) == [
            "testapp.0002_book_isbn",
            "testapp.0003_remove_book_isbn",
            "testapp.0004_book_note",
        ]
        assert data["refused"]["post_deploy"] is None

        text = run("showstages").stdout
        assert (
            "Pre-deploy stage (migrate --stage pre-deploy):\n"
            "  Refused, nothing is applied:\n"
            "    The pre-deploy stage cannot run: 1 migration(s) belong to it" in text
        )
        assert (
            "  testapp.0004_book_note  [pre-deploy, written]  "
            "(waits for testapp.0003_remove_book_isbn)" in text
        )
        assert "`migrate --stage pre-deploy` refuses this plan." in text

        with override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {"testapp.0002_book_isbn": "post"}}):
            with pytest.raises(CommandError, match="testapp.0002_book_isbn"):
                report()
        stages = {"STAGES": {"testapp.0002_book_isbn": "post_deploy"}}
        with override_settings(GREEN_MAKEMIGRATIONS=stages):
            data = report()
        entry = next(e for e in data["post_deploy"] if e["name"] == "0002_book_isbn")
        assert (entry["stage"], entry["stage_source"]) == ("post_deploy", "settings")


@pytest.mark.django_db(transaction=True)
def test_showstages_app_labels(empty_testapp: None) -> None:
    with migration_module("initial", "unstaged"):
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        data = report("auth")
        assert (data["pre_deploy"], data["post_deploy"]) == ([], [])
        assert names(report(APP_LABEL)["post_deploy"]) == ["testapp.0003_remove_book_isbn"]
        with pytest.raises(CommandError, match="No migrations for app\\(s\\): nosuchapp."):
            run("showstages", "nosuchapp")


# -- showstages, migrate --plan and the stage runs agree ---------------------

# Fixture histories (tests/commands/migrations/), with what each exercises.
HISTORIES = {
    "initial": ("initial",),  # one pre-deploy migration
    "unstaged": ("initial", "unstaged"),  # inferred stages: an addition, a drop
    "unsafe": ("initial", "unsafe"),  # a drop written pre-deploy: both stages refuse
    "blocked": ("initial", "blocked"),  # pre-deploy after a pending drop: refused
    "multi_pr": ("multi_pr",),  # generated prep and drop
    "merge_post": ("initial", "merge_post"),  # two leaves, one of each stage
    "bad_stage": ("initial", "bad_stage"),  # an invalid written stage: nothing runs
    "separate_drop": ("initial", "separate_drop"),  # a drop in SeparateDatabaseAndState
    "separate_state_only": ("initial", "separate_state_only"),  # no drop at all
    "runsql_drop": ("initial", "runsql_drop"),  # RunSQL: runs, with a warning
    "hand_rename": ("initial", "hand_rename"),  # a hand-written rename: runs, warned
}
# Histories whose pending migrations makemigrations completes (generated phasings).
GENERATED = ("remove_not_null", "remove_model", "remove_m2m", "remove_fk", "remove_db_table")
# By default most histories from scratch and one with its first migration
# applied (a few seconds per backend); GREEN_TEST_ALL_HISTORIES=1 runs every
# history from both starts and every generated removal.
ALL = bool(os.environ.get("GREEN_TEST_ALL_HISTORIES"))
SAMPLE = [name for name in HISTORIES if name not in ("initial", "unstaged", "separate_state_only")]
UNRUNNABLE = ("merge_post", "bad_stage")  # plain migrate refuses them too
CASES = [(name, 0) for name in (HISTORIES if ALL else SAMPLE)] + [
    (name, 1) for name in (HISTORIES if ALL else ("multi_pr",)) if name not in UNRUNNABLE
]
GENERATED_CASES = [(name, 0) for name in (GENERATED if ALL else GENERATED[:1])]


def planned(stage: str) -> list[str] | str:
    """Return what `migrate --stage stage --plan` lists, or its refusal."""
    try:
        output = run("migrate", APP_LABEL, stage=stage, plan=True)
    except CommandError as error:
        return str(error)
    return [line for line in output.stdout.splitlines() if line.startswith(f"{APP_LABEL}.")]


def applied_by(stage: str) -> list[str] | str:
    """Run `migrate --stage stage` and return what it applied, or its refusal."""
    before = applied()
    try:
        run("migrate", APP_LABEL, stage=stage, verbosity=0)
    except CommandError as error:
        assert applied() == before, "a refused stage applied something"
        return str(error)
    return sorted(f"{APP_LABEL}.{name}" for name in applied() - before)


def check_agreement() -> None:
    """Assert that showstages, --plan and the runs agree, stage after stage."""
    try:
        data = report(APP_LABEL)
    except CommandError as error:
        # Nothing can be planned: neither stage runs either.
        for stage in Stage:
            assert planned(stage.label) == str(error)
            assert applied_by(stage.label) == str(error)
        return
    for stage in Stage:
        shown = data["refused"][stage.value] or names(data[stage.value])
        assert planned(stage.label) == shown, stage
        expected = shown if isinstance(shown, str) else sorted(shown)
        assert applied_by(stage.label) == expected, stage
    if not any(data["refused"].values()):
        after = report(APP_LABEL)
        assert (after["pre_deploy"], after["post_deploy"]) == ([], [])


@pytest.mark.parametrize(("history", "start"), CASES, ids=[f"{h}-{s}" for h, s in CASES])
def test_showstages_plan_and_runs_agree(empty_testapp: None, history: str, start: int) -> None:
    with migration_module(*HISTORIES[history]) as module:
        if start:
            run("migrate", APP_LABEL, module.files()[start - 1], verbosity=0)
        check_agreement()


@pytest.mark.parametrize(
    ("history", "start"), GENERATED_CASES, ids=[f"{h}-{s}" for h, s in GENERATED_CASES]
)
def test_showstages_plan_and_runs_agree_on_generated_phasings(
    empty_testapp: None, history: str, start: int
) -> None:
    with migration_module("initial", history):
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        check_agreement()
