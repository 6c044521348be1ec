"""The pytest plugin: the staged_deploy fixture on a real database, and its entry point.

The matrix deploys the removal and addition histories of the command tests
through the fixture (the fixture history is the deployed release,
makemigrations writes the staged migrations of the new one): the deployed
release writes before the deploy, both releases write and read after the
pre-deploy stage, the new one after the post-deploy stage, and teardown
leaves the database at the latest migrations. pytester runs the plugin from
its entry point in a fresh pytest of a tiny project, and in one without Django.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.apps.registry import Apps
from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings

from green_makemigrations import pytest_plugin
from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import StagePlanError
from green_makemigrations.pytest_plugin import StagedDeployFactory
from tests.commands import test_additions
from tests.commands.test_removals import CASES as REMOVALS
from tests.commands.utils import (
    APP_LABEL,
    MigrationModule,
    columns,
    drop_testapp_schema,
    execute,
    migration_module,
    run,
)
from tests.plugin.recording_app.management.commands.migrate import APPLIED
from tests.subset import chosen

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).parent / "project"


@dataclass(frozen=True)
class Case:
    """A history deployed through the fixture."""

    name: str
    app_label: str
    fixtures: tuple[str, ...]
    previous: str  # the deployed release's last migration
    model: str  # a model both releases write
    key: str  # its field that names a row
    write_old: Callable[[Apps, str], None]  # a row as the deployed release writes it
    drop: Callable[[], None] = drop_testapp_schema  # its app's tables, before and after
    installed: str | None = None  # an app to install for the case


def gadget(apps: Apps, name: str) -> None:
    # The new release's foreign key to Maker defaults to maker 1.
    apps.get_model(test_additions.APP, "Maker").objects.get_or_create(pk=1, name="first")
    apps.get_model(test_additions.APP, "Gadget").objects.create(name=name)


def book(apps: Apps, title: str) -> None:
    apps.get_model(APP_LABEL, "Book").objects.create(title=title)


CASES = [
    *(
        Case(r.fixture, APP_LABEL, ("initial", r.fixture), r.previous, r.model, r.key, r.write_old)
        for r in REMOVALS
    ),
    # Book.summary added, nullable: a pre-deploy migration and no post-deploy one.
    Case(
        "add_nullable",
        APP_LABEL,
        ("initial", "remove_summary"),
        "0002_remove_book_summary",
        "Book",
        "title",
        book,
    ),
    # NOT NULL fields with defaults added: database defaults, dropped post-deploy.
    Case(
        "add_not_null",
        test_additions.APP,
        ("additions",),
        test_additions.INITIAL,
        "Gadget",
        "name",
        gadget,
        test_additions.drop_schema,
        "tests.commands.additions_app",
    ),
]
# Shared between the Django versions of a run (tests/subset.py); these run under each.
SOME_CASES = chosen(CASES, lambda case: case.name in {"remove_not_null", "add_not_null"})


@dataclass(frozen=True)
class History:
    """A case's history installed, with the new release's migrations written."""

    case: Case
    module: MigrationModule

    def new_migrations(self) -> dict[Stage, list[str]]:
        """Return the migrations makemigrations wrote for the new release, by stage."""
        new: dict[Stage, list[str]] = {Stage.PRE_DEPLOY: [], Stage.POST_DEPLOY: []}
        for name in self.module.files():
            if name not in {"0001_initial", self.case.previous}:
                new[self.module.load(name).Migration.stage].append(name)
        return new


def applied(app_label: str) -> set[str]:
    recorder = MigrationRecorder(connection)
    return {name for label, name in recorder.applied_migrations() if label == app_label}


def at_latest() -> bool:
    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


@pytest.fixture
def history(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[History]:
    """Install the case's history; makemigrations writes the new release's migrations.

    Requested before staged_deploy, so that the deploy's teardown still
    migrates this history.
    """
    case: Case = request.param
    installed = [*settings.INSTALLED_APPS, *([case.installed] if case.installed else [])]
    with override_settings(INSTALLED_APPS=installed):
        case.drop()
        try:
            with migration_module(*case.fixtures, app_label=case.app_label) as module:
                run("makemigrations", case.app_label, interactive=False, verbosity=0)
                yield History(case, module)
        finally:
            case.drop()


@pytest.fixture
def latest_after_teardown(transactional_db: None) -> Iterator[None]:
    """Check, once the deploys are torn down, that the database is at the latest migrations."""
    yield
    assert at_latest(), "staged_deploy's teardown left migrations unapplied"


def rows(model: Any, key: str, names: list[str]) -> list[str]:
    """Return the names of the rows of model, among names, sorted."""
    query = model._default_manager.filter(**{f"{key}__in": names})
    return sorted(query.values_list(key, flat=True))


@pytest.mark.parametrize("history", SOME_CASES, ids=lambda case: case.name, indirect=True)
def test_deploy_through_the_fixture(
    history: History, latest_after_teardown: None, staged_deploy: StagedDeployFactory
) -> None:
    case = history.case
    app = case.app_label
    new = history.new_migrations()
    deploy = staged_deploy(deployed=[(app, case.previous)])
    assert (app, case.previous) in deploy.deployed
    assert (app, history.module.files()[-1]) in deploy.targets

    # The deployed release: its migrations only; its models write.
    old_apps = deploy.before()
    assert deploy.old_apps is old_apps
    assert applied(app) == {"0001_initial", case.previous}
    case.write_old(old_apps, "old")

    # Pre-deploy: the stage's migrations only; both releases write and read.
    old_apps, new_apps = deploy.pre_deploy()
    assert (deploy.old_apps, deploy.new_apps) == (old_apps, new_apps)
    assert deploy.pre_deployed == [(app, name) for name in new[Stage.PRE_DEPLOY]]
    assert applied(app) == {"0001_initial", case.previous, *new[Stage.PRE_DEPLOY]}
    current = apps.get_model(app, case.model)._meta
    old_model = old_apps.get_model(app, case.model)
    new_model = new_apps.get_model(app, case.model)
    # The new release's models are the project's.
    concrete = {f.column for f in current.concrete_fields}
    assert {f.column for f in new_model._meta.concrete_fields} == concrete
    new_model._default_manager.create(**{case.key: "new"})
    case.write_old(old_apps, "old-2")
    names = ["new", "old", "old-2"]
    assert rows(old_model, case.key, names) == names
    assert rows(new_model, case.key, names) == names

    # Post-deploy: the rest of the plan; the new release writes on.
    assert deploy.post_deploy() is new_apps
    assert deploy.post_deployed == [(app, name) for name in new[Stage.POST_DEPLOY]]
    assert applied(app) == {"0001_initial", case.previous, *new[Stage.PRE_DEPLOY]} | set(
        new[Stage.POST_DEPLOY]
    )
    assert set(columns(current.db_table)) == concrete
    new_model._default_manager.create(**{case.key: "new-2"})
    assert rows(new_model, case.key, [*names, "new-2"]) == sorted([*names, "new-2"])


REMOVE_NOT_NULL = [case for case in CASES if case.name == "remove_not_null"]


@pytest.mark.parametrize("history", REMOVE_NOT_NULL, ids=lambda case: case.name, indirect=True)
def test_rollback_through_the_fixture(
    history: History, latest_after_teardown: None, staged_deploy: StagedDeployFactory
) -> None:
    # The new release is deployed; the targets are the previous one (a
    # migration prefix): the roles of the stages reverse.
    new = history.new_migrations()
    deploy = staged_deploy((APP_LABEL, history.module.files()[-1]), targets=(APP_LABEL, "0002"))
    assert deploy.targets == [(APP_LABEL, "0002_book_subtitle")]
    latest = deploy.before()
    latest.get_model(APP_LABEL, "Book").objects.create(title="latest")

    # The rollback's pre-deploy stage undoes the drop: the column is back, nullable.
    latest, previous = deploy.pre_deploy()
    assert deploy.pre_deployed == [(APP_LABEL, name) for name in new[Stage.POST_DEPLOY]]
    assert applied(APP_LABEL) == {"0001_initial", "0002_book_subtitle", *new[Stage.PRE_DEPLOY]}
    assert columns("testapp_book")["subtitle"].null_ok
    latest.get_model(APP_LABEL, "Book").objects.create(title="latest-2")
    previous.get_model(APP_LABEL, "Book").objects.create(title="previous", subtitle="s")

    # The operator backfills what the NOT NULL the post-deploy stage restores refuses.
    execute("UPDATE testapp_book SET subtitle = 'restored' WHERE subtitle IS NULL")
    deploy.post_deploy()
    assert deploy.post_deployed == [(APP_LABEL, name) for name in new[Stage.PRE_DEPLOY]]
    assert applied(APP_LABEL) == {"0001_initial", "0002_book_subtitle"}
    assert not columns("testapp_book")["subtitle"].null_ok
    book = previous.get_model(APP_LABEL, "Book")
    assert dict(book.objects.values_list("title", "subtitle")) == {
        "latest": "restored",
        "latest-2": "restored",
        "previous": "s",
    }


@pytest.mark.parametrize("fixture", ["blocked", "unsafe"])
def test_a_plan_the_stage_refuses(
    empty_history: Callable[..., MigrationModule], staged_deploy: StagedDeployFactory, fixture: str
) -> None:
    empty_history("initial", fixture)
    deploy = staged_deploy([(APP_LABEL, "0001_initial")])
    deploy.before()
    with pytest.raises(StagePlanError) as refused:
        deploy.pre_deploy()
    # Nothing changed, and migrate --stage says the same.
    assert applied(APP_LABEL) == {"0001_initial"}
    with pytest.raises(CommandError) as error:
        run("migrate", APP_LABEL, stage="pre-deploy")
    assert str(refused.value) == str(error.value)
    assert "Nothing was changed." in str(refused.value)

    with pytest.raises(pytest.fail.Exception, match=r"deploy\.before\(\) already ran"):
        deploy.before()


def test_the_stages_messages(
    empty_history: Callable[..., MigrationModule], staged_deploy: StagedDeployFactory
) -> None:
    # A hand-written rename: a warning of the stage rules, which migrate prints.
    empty_history("initial", "hand_rename")
    deploy = staged_deploy([(APP_LABEL, "0001_initial")])
    deploy.pre_deploy()  # runs before()
    [message] = deploy.messages
    assert message.startswith("Warning (green_makemigrations.W002): Migration testapp.")
    assert deploy.pre_deployed
    assert applied(APP_LABEL) == {"0001_initial", *(name for _, name in deploy.pre_deployed)}


@pytest.fixture
def empty_history(transactional_db: None) -> Iterator[Callable[..., MigrationModule]]:
    """Give the test app the migrations of fixtures (tests/commands/migrations/) for the test."""
    with ExitStack() as stack:
        drop_testapp_schema()
        stack.callback(drop_testapp_schema)
        yield lambda *fixtures: stack.enter_context(migration_module(*fixtures))


def test_the_projects_migrate_executor(
    empty_history: Callable[..., MigrationModule], staged_deploy: StagedDeployFactory
) -> None:
    # A project whose migrate command has an executor of its own (composed
    # with another app's): the stages run with it.
    empty_history("initial", "remove_not_null")
    run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
    with override_settings(INSTALLED_APPS=["tests.plugin.recording_app", *settings.INSTALLED_APPS]):
        get_commands.cache_clear()  # type: ignore[attr-defined]
        try:
            APPLIED.clear()
            deploy = staged_deploy((APP_LABEL, "0002"))
            deploy.post_deploy()
        finally:
            get_commands.cache_clear()  # type: ignore[attr-defined]
    assert APPLIED == [
        ("pre_deploy", "0003_prepare_remove_book_subtitle"),
        ("post_deploy", "0004_remove_book_subtitle"),
    ]


BAD_TARGETS = [
    # deployed, targets, the message (a regular expression)
    ([], None, r"needs the deployed release's migrations, e\.g\. \[\('shop', '0004_x'\)\]"),
    (
        [(APP_LABEL, "0099_nope")],
        None,
        r"^staged_deploy\(deployed=\.\.\.\): testapp\.0099_nope: no such migration\. "
        r"The migrations of testapp: 0001_initial, 0002_book_subtitle\.$",
    ),
    (
        (APP_LABEL, "0001"),
        (APP_LABEL, "0099"),
        r"^staged_deploy\(targets=\.\.\.\): testapp\.0099: ",
    ),
    (
        (APP_LABEL, "000"),
        None,
        r"testapp\.000: more than one migration of testapp starts with '000'",
    ),
    (("shop", "0001"), None, r"shop\.0001: 'shop' is not an installed app label\.$"),
    (("green_makemigrations", "1"), None, r"'green_makemigrations' has no migrations\.$"),
    (
        [(APP_LABEL, "0001_initial"), (APP_LABEL, "0002_book_subtitle")],
        None,
        r"the deployed migrations contradict each other: testapp\.0001_initial, "
        r"testapp\.0002_book_subtitle",
    ),
]


def test_targets_that_do_not_exist(
    empty_history: Callable[..., MigrationModule], staged_deploy: StagedDeployFactory
) -> None:
    module = empty_history("initial", "remove_not_null")
    for deployed, targets, message in BAD_TARGETS:
        with pytest.raises(pytest.fail.Exception, match=message):
            staged_deploy(deployed, targets=targets)
    # A migration a squashed one replaces, where the squashed one is in use.
    (module.path / "0001_squashed_0002_book_subtitle.py").write_text(SQUASHED)
    importlib.invalidate_caches()
    with pytest.raises(pytest.fail.Exception, match=r": 0001_initial is replaced by a squashed "):
        staged_deploy((APP_LABEL, "0001_initial"))
    # Nothing was done.
    assert applied(APP_LABEL) == set()


SQUASHED = """
from django.db import migrations


class Migration(migrations.Migration):
    replaces = [("testapp", "0001_initial"), ("testapp", "0002_book_subtitle")]
    operations = []
"""


# Plugins the fresh runs do not need, and slow to start.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def fresh_pytest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prepare a pytest process: the repository importable, plugins from their entry points."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.setenv("PYTHONPATH", f"{pytester.path}{os.pathsep}{ROOT}")


def test_entry_point_in_a_fresh_pytest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tests/plugin/project: a shop whose release N+1 adds a slug and
    # backfills it post-deploy, and its tests: one that does not use the
    # fixture, the how-to's example, one that stops after pre-deploy, and one
    # that checks that its teardown left the database at the latest migrations.
    fresh_pytest(pytester, monkeypatch)
    shutil.copytree(PROJECT, pytester.path, dirs_exist_ok=True)
    # This run's backend, with a test database of its own.
    (pytester.path / "project_settings.py").write_text(
        f"from {settings.SETTINGS_MODULE} import *  # noqa\n"
        'INSTALLED_APPS = ["green_makemigrations", "shop"]\n'
    )
    monkeypatch.setenv("GREEN_TEST_DB_NAME", f"{Path(connection.settings_dict['NAME']).stem}_pt")
    result = pytester.runpytest_subprocess(*QUIET, "--ds", "project_settings")
    result.assert_outcomes(passed=4)


def test_a_project_without_django(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plugin is loaded and imports nothing: no Django, no executor, no
    # django-test-migrations' Migrator.
    fresh_pytest(pytester, monkeypatch)
    pytester.makepyfile("""
        import sys


        def test_plugin_idle(pytestconfig):
            plugin = pytestconfig.pluginmanager.get_plugin("green_makemigrations")
            assert plugin.__name__ == "green_makemigrations.pytest_plugin"
            loaded = sorted(
                name
                for name in sys.modules
                if name.startswith(("green_makemigrations", "django.db.migrations"))
                or name == "django_test_migrations.migrator"
            )
            assert loaded == ["green_makemigrations", "green_makemigrations.pytest_plugin"]
    """)  # fmt: skip
    pytester.runpytest_subprocess(*QUIET).assert_outcomes(passed=1)


def test_missing_requirements(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # The plugin imported where django-test-migrations is not installed: its
    # fixture fails with what to install (in-process, with the plugins that
    # would need Django switched off).
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "django_test_migrations", None)
        assert pytest_plugin.missing_requirements() == ["django-test-migrations"]
        spec = importlib.util.spec_from_file_location(
            "green_makemigrations.pytest_plugin_copy", pytest_plugin.__file__
        )
        assert spec is not None and spec.loader is not None
        plugin = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plugin)
    pytester.makepyfile("""
        def test_deploy(staged_deploy):
            pass
    """)
    disabled = ("green_makemigrations", "django", "django_test_migrations")
    options = [arg for name in disabled for arg in ("-p", f"no:{name}")]
    result = pytester.runpytest_inprocess(*QUIET, *options, plugins=[plugin])
    result.assert_outcomes(errors=1)
    # The message alone, without a traceback.
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_deploy*",
            "The staged_deploy fixture needs django-test-migrations: "
            "pip install django-test-migrations.",
            "*short test summary*",
        ]
    )
