"""First deploys and new apps: the pre-deploy stage runs what no running release uses.

On an empty database no release runs, and no release uses the tables of an
app that has no migration applied: ``migrate --stage pre-deploy`` applies
all of it (contrib's own history too, whose contenttypes.0002 drops a
column), as far as dependencies on the pending post-deploy migrations of
deployed apps allow.
"""

from __future__ import annotations

import json
import pprint
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from tests.rehearsal import harness

from .test_migrate_stages import left_for_post_deploy
from .utils import APP_LABEL, applied, columns, migration_module, run

pytestmark = pytest.mark.django_db(transaction=True)

FIRST_DEPLOY = (
    "First deploy: no migration is applied, so every migration runs in the pre-deploy stage"
)
NEW_APP = (
    "App 'testapp' has no migration applied: its migrations all run in the pre-deploy stage "
    "(no release uses its tables yet)."
)
CONTRIB = ("contenttypes", "auth")


def all_applied() -> set[tuple[str, str]]:
    """Return every applied migration of the database."""
    return set(MigrationRecorder(connection).applied_migrations())


def graph_keys() -> set[tuple[str, str]]:
    """Return every migration of the project (the test app's temporary history included)."""
    return set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


@pytest.fixture
def empty_database(empty_testapp: None) -> Iterator[None]:
    """Unapply contrib's migrations too: the database of a new project, before its first deploy.

    Contrib's tables are migrated back afterwards, for the tests that follow.
    """
    call_command("migrate", "contenttypes", "zero", verbosity=0)
    assert all_applied() == set()
    try:
        yield
    finally:
        for app_label in CONTRIB:
            call_command("migrate", app_label, verbosity=0)


@pytest.fixture
def contrib_restored(empty_testapp: None) -> Iterator[None]:
    """Migrate contrib's apps to their leaves after the test, whatever it left."""
    try:
        yield
    finally:
        for app_label in CONTRIB:
            call_command("migrate", app_label, verbosity=0)


def test_first_deploy_runs_everything_in_pre_deploy(empty_database: None) -> None:
    with migration_module("initial", "remove_not_null") as module:
        # The new project's history: Book.subtitle added, then removed.
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        assert module.files()[2:] == [
            "0003_prepare_remove_book_subtitle",
            "0004_remove_book_subtitle",
        ]
        everything = graph_keys()

        # showstages lists everything in the pre-deploy stage, and says why.
        data = json.loads(run("showstages", format="json").stdout)
        assert data["first_deploy"] is True
        assert data["refused"] == {"pre_deploy": None, "post_deploy": None}
        assert data["post_deploy"] == []
        shown = {(entry["app_label"], entry["name"]): entry for entry in data["pre_deploy"]}
        assert set(shown) == everything
        early = {key for key, entry in shown.items() if entry["fresh_app"]}
        assert early == {
            ("contenttypes", "0002_remove_content_type_name"),
            ("auth", "0006_require_contenttypes_0002"),
            (APP_LABEL, "0004_remove_book_subtitle"),
        }
        assert shown[APP_LABEL, "0004_remove_book_subtitle"]["stage"] == "post_deploy"
        text = run("showstages").stdout
        assert text.startswith(FIRST_DEPLOY)
        assert (
            "  testapp.0004_remove_book_subtitle  [post-deploy, written; its app has no "
            "migration applied]\n" in text
        )

        planned = run("migrate", stage="pre-deploy", plan=True).stdout
        assert FIRST_DEPLOY in planned
        assert all_applied() == set()

        output = run("migrate", stage="pre-deploy")
        assert FIRST_DEPLOY in output.stdout
        assert "Left for the post-deploy stage" not in output.stdout
        assert all_applied() == everything
        assert "subtitle" not in columns("testapp_book")
        assert "name" not in columns("django_content_type")

        output = run("migrate", stage="post-deploy")
        assert "No migrations to apply." in output.stdout
        assert FIRST_DEPLOY not in output.stdout
        # The next deploy has stages again.
        planned = run("migrate", stage="pre-deploy", plan=True).stdout
        assert FIRST_DEPLOY not in planned and "No planned migration operations." in planned


def test_new_app_in_a_deployed_project(empty_testapp: None) -> None:
    # contrib is deployed; the test app is new in this release.
    with migration_module("initial", "remove_not_null") as module:
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        output = run("migrate", stage="pre-deploy")
        assert NEW_APP in output.stdout
        assert FIRST_DEPLOY not in output.stdout
        assert applied() == set(module.files())
        assert "subtitle" not in columns("testapp_book")
        assert "No migrations to apply." in run("migrate", stage="post-deploy").stdout

        # Once it is deployed, its next post-deploy migration waits as any other.
        run("migrate", APP_LABEL, "0003_prepare_remove_book_subtitle", verbosity=0)
        output = run("migrate", stage="pre-deploy")
        assert NEW_APP not in output.stdout
        assert left_for_post_deploy(output.stdout) == ["testapp.0004_remove_book_subtitle"]


def test_app_with_tables_but_no_migration_applied_keeps_its_stages(empty_testapp: None) -> None:
    # The app's tables exist, made without migrations (or unapplied with
    # --fake): a running release may use them.
    with migration_module("initial", "remove_not_null"):
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        MigrationRecorder(connection).migration_qs.filter(app=APP_LABEL).delete()
        adopted = (
            "App 'testapp' has no migration applied but its tables exist: a running release "
            "may use them, so its migrations keep their stages."
        )
        data = json.loads(run("showstages", format="json").stdout)
        assert (data["adopted_apps"], data["fresh_apps"]) == (["testapp"], [])
        assert data["notes"] == [adopted]
        assert [entry["name"] for entry in data["post_deploy"]] == ["0004_remove_book_subtitle"]

        output = run("migrate", stage="pre-deploy", fake_initial=True)
        assert adopted in output.stdout
        assert NEW_APP not in output.stdout
        assert applied() == {
            "0001_initial",
            "0002_book_subtitle",
            "0003_prepare_remove_book_subtitle",
        }
        assert left_for_post_deploy(output.stdout) == ["testapp.0004_remove_book_subtitle"]
        run("migrate", stage="post-deploy", verbosity=0)
        assert "subtitle" not in columns("testapp_book")


def test_new_app_backwards_keeps_the_stages(empty_testapp: None) -> None:
    # Rolling a new app back: un-applying its drop is the rollback's pre-deploy step.
    with migration_module("initial", "remove_not_null"):
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        run("migrate", stage="pre-deploy", verbosity=0)
        output = run("migrate", APP_LABEL, "0002_book_subtitle", stage="pre-deploy")
        assert NEW_APP not in output.stdout
        assert applied() == {
            "0001_initial",
            "0002_book_subtitle",
            "0003_prepare_remove_book_subtitle",
        }
        assert left_for_post_deploy(output.stdout) == ["testapp.0003_prepare_remove_book_subtitle"]
        assert columns("testapp_book")["subtitle"].null_ok
        run("migrate", APP_LABEL, "0002_book_subtitle", stage="post-deploy", verbosity=0)
        assert not columns("testapp_book")["subtitle"].null_ok


def test_new_app_waits_for_a_post_deploy_migration_of_a_deployed_app(
    contrib_restored: None,
) -> None:
    # contenttypes is deployed without its 0002 (a drop, inferred post-deploy).
    call_command("migrate", "contenttypes", "0001", verbosity=0)
    drop = "contenttypes.0002_remove_content_type_name"

    # The new app's second migration, pre-deploy, needs the drop: the stage
    # refuses, as for any pre-deploy migration after a pending post-deploy one.
    with migration_module("initial", "after_contenttypes_pre"):
        with pytest.raises(CommandError) as error:
            run("migrate", APP_LABEL, stage="pre-deploy")
        message = str(error.value)
        assert message.startswith("The pre-deploy stage cannot run")
        assert f"testapp.0002_book_isbn depends on {drop} (post-deploy, inferred)" in message
        assert applied() == set()

    # Post-deploy, it waits for the post-deploy stage; the rest of the app runs.
    with migration_module("initial", "after_contenttypes_post"):
        # Django's own drop of ContentType.name (1.8) leaves the column NOT
        # NULL until the post-deploy stage: the new release's ContentType
        # inserts would fail during the rollout, and the proof says so.
        with pytest.raises(CommandError, match="column name of django_content_type is NOT NULL"):
            run("migrate", APP_LABEL, stage="pre-deploy")
        output = run("migrate", APP_LABEL, stage="pre-deploy", skip_verify=True)
        assert "App 'testapp' has no migration applied" in output.stdout
        assert "but for those that wait for a post-deploy migration of a deployed app" in (
            output.stdout
        )
        assert applied() == {"0001_initial"}
        assert left_for_post_deploy(output.stdout) == [drop, "testapp.0002_remove_book_summary"]
        assert "name" in columns("django_content_type")
        assert "summary" in columns("testapp_book")

        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert applied() == {"0001_initial", "0002_remove_book_summary"}
        assert "summary" not in columns("testapp_book")
        assert "name" not in columns("django_content_type")


# -- end to end: a new project's first deploy, in processes of its own ---------

RELEASE_1 = """\
from django.db import models


class Ticket(models.Model):
    title = models.CharField(max_length=40)
    code = models.IntegerField()


class Meter(models.Model):
    name = models.CharField(max_length=40)
"""

# Written before the first deploy: Ticket.code removed (a prep step and a
# drop), Meter.reading added with a default.
RELEASE_2 = """\
from django.db import models


class Ticket(models.Model):
    title = models.CharField(max_length=40)


class Meter(models.Model):
    name = models.CharField(max_length=40)
    reading = models.IntegerField(default=0)
"""


@pytest.fixture
def project_database(
    django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], dict[str, Any]]]:
    """Return a factory of empty databases on the active backend's server; drop them after."""
    directory: Path = tmp_path_factory.mktemp("first-deploy-db")
    created: list[dict[str, Any]] = []

    def create(suffix: str) -> dict[str, Any]:
        database = harness.rehearsal_database(settings.DATABASES["default"], suffix, directory)
        with django_db_blocker.unblock():
            harness.reset_database(database)
        created.append(database)
        return database

    yield create
    with django_db_blocker.unblock():
        for database in created:
            harness.reset_database(database, create=False)


@pytest.mark.rehearsal
def test_new_project_first_deploy(
    project_database: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    database = project_database("first")
    project = harness.Project.create(tmp_path / "project", database, RELEASE_1)
    # A project as startproject writes it: contrib's apps installed.
    settings_file = project.path / f"{harness.SETTINGS_MODULE}.py"
    settings_file.write_text(
        harness.SETTINGS_TEMPLATE.replace(
            '["green_makemigrations", {app_label!r}]',
            '["green_makemigrations", "django.contrib.contenttypes", "django.contrib.auth", '
            "{app_label!r}]",
        ).format(app_label=harness.APP_LABEL, database=pprint.pformat(database))
    )
    project.manage("makemigrations", harness.APP_LABEL)
    project.write_models(RELEASE_2)
    project.manage("makemigrations", harness.APP_LABEL, "--noinput")
    names = project.migration_names()
    stages = {name: project.migration_text(name) for name in names}
    assert any("stage = Stage.POST_DEPLOY" in text for text in stages.values()), names

    shown = json.loads(project.manage("showstages", "--format", "json").stdout)
    assert shown["first_deploy"] is True
    assert shown["post_deploy"] == [] and shown["blocked"] == []

    # The deploy recipe, unchanged: the pre-deploy stage, the release, the post-deploy stage.
    pre = project.manage("migrate", "--stage", "pre-deploy")
    assert FIRST_DEPLOY in pre.stdout
    assert "Left for the post-deploy stage" not in pre.stdout
    schema = project.schema()
    assert {app for app, _ in schema.applied} == {"contenttypes", "auth", harness.APP_LABEL}
    assert schema.applied_names() == names
    assert set(schema.columns("shop_ticket")) == {"id", "title"}
    assert "reading" in schema.columns("shop_meter")

    with project.worker("release 2", "live") as worker:
        harness.run_phase("live", [worker])
        post = harness.run_phase(
            "post-deploy",
            [worker],
            lambda: project.manage("migrate", "--stage", "post-deploy"),
        )
        result = worker.stop()
    harness.assert_no_failures(result)
    assert result.ops("post-deploy") >= harness.MIN_OPS
    assert "No migrations to apply." in post.stdout
    assert project.schema().applied == schema.applied
