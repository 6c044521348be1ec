"""showstages: the pending plan split by stage, as text and as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.test.utils import override_settings

from .utils import APP_LABEL, columns, migration_module, run, tables


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


@pytest.mark.django_db
def test_showstages_reports_blocked_migrations_and_stage_sources() -> None:
    with migration_module("initial", "blocked"):
        data = report()
        assert data["blocked"] == [
            {"migration": "testapp.0004_book_note", "blocked_by": "testapp.0003_remove_book_isbn"}
        ]
        sources = {
            entry["name"]: (entry["stage"], entry["stage_source"], entry["blocked_by"])
            for entry in data["pre_deploy"] + data["post_deploy"]
        }
        assert sources == {
            "0001_initial": ("pre_deploy", "inferred", None),
            "0002_book_isbn": ("pre_deploy", "inferred", None),
            "0003_remove_book_isbn": ("post_deploy", "inferred", None),
            "0004_book_note": ("pre_deploy", "written", "testapp.0003_remove_book_isbn"),
        }
        # migrate --stage pre-deploy refuses the plan: it applies nothing, and
        # the post-deploy stage would apply everything.
        assert names(data["pre_deploy"]) == []
        assert data["refused"]["pre_deploy"].startswith("The pre-deploy stage cannot run")
        assert names(data["post_deploy"]) == [
            "testapp.0001_initial",
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


@pytest.mark.django_db
def test_showstages_app_labels() -> None:
    with migration_module("initial", "unstaged"):
        data = report("auth")
        assert (data["pre_deploy"], data["post_deploy"]) == ([], [])
        assert names(report(APP_LABEL)["post_deploy"]) == ["testapp.0003_remove_book_isbn"]
        with pytest.raises(CommandError, match="No migrations for app\\(s\\): nosuchapp."):
            run("showstages", "nosuchapp")
