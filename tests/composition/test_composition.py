"""Composing green_makemigrations' commands with another app's (docs/howto/composition.rst).

``otherapp`` (tests/composition/apps/) overrides makemigrations and migrate
as third-party apps do; ``myproject`` composes them with this package's
mixins, in the files the how-to shows. The commands run on the test database,
through INSTALLED_APPS as a project would run them.
"""

from __future__ import annotations

import importlib
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand, CommandError
from django.core.management.commands import migrate as django_migrate
from django.db import connection
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import extend_sys_path, override_settings

from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.commands import (
    AutodetectorMixin,
    MakemigrationsMixin,
    MigrateMixin,
    StagedExecutorMixin,
    green_autodetector,
    staged_executor,
)
from green_makemigrations.constants import Stage
from green_makemigrations.management.commands import makemigrations as green_makemigrations
from green_makemigrations.management.commands import migrate as green_migrate
from tests.commands.utils import (
    APP_LABEL,
    applied,
    drop_testapp_schema,
    migration_module,
    run,
    written,
)

APPS = Path(__file__).parent / "apps"
HOWTO = Path(__file__).parents[2] / "docs" / "howto" / "composition.rst"
# The how-to's INSTALLED_APPS: the project app first.
COMPOSED = ["myproject", "green_makemigrations", "otherapp"]


def installed(*first: str) -> list[str]:
    """Return the test settings' INSTALLED_APPS with first in front, in that order."""
    return [*first, *(app for app in settings.INSTALLED_APPS if app not in first)]


@pytest.fixture
def apps_order(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    """Install otherapp and myproject with INSTALLED_APPS starting as the test's param says.

    Yields otherapp, whose RECORD starts empty.
    """
    first: list[str] = getattr(request, "param", COMPOSED)
    with extend_sys_path(str(APPS)), override_settings(INSTALLED_APPS=installed(*first)):
        get_commands.cache_clear()  # type: ignore[attr-defined]
        otherapp = importlib.import_module("otherapp")
        otherapp.RECORD.clear()
        try:
            yield otherapp
        finally:
            get_commands.cache_clear()  # type: ignore[attr-defined]


@pytest.fixture
def empty_testapp(transactional_db: None) -> Iterator[None]:
    drop_testapp_schema()
    yield
    drop_testapp_schema()


def command_class(app: str, name: str) -> type[BaseCommand]:
    return type(load_command_class(app, name))


# -- the how-to shows the files the tests run ---------------------------------------


def howto_blocks() -> dict[str, str]:
    """Return the how-to's code blocks by caption."""
    text = HOWTO.read_text(encoding="utf-8")
    pattern = r"\.\. code-block:: python\n   :caption: (\S+)\n\n((?:(?:   .*)?\n)+)"
    return {
        caption: textwrap.dedent(body).strip() + "\n" for caption, body in re.findall(pattern, text)
    }


@pytest.mark.parametrize("name", ["makemigrations", "migrate"])
def test_the_howto_shows_the_composed_commands(name: str) -> None:
    path = f"myproject/management/commands/{name}.py"
    assert howto_blocks()[path] == (APPS / path).read_text(encoding="utf-8")


def test_the_howto_lists_the_apps_in_the_tested_order() -> None:
    settings_block = howto_blocks()["settings.py"]
    listed = re.findall(r'^    "(\w+)",', settings_block, flags=re.MULTILINE)
    assert listed == COMPOSED


# -- the composed pair passes the checks -------------------------------------------


def test_the_composed_commands_pass_the_checks(apps_order: ModuleType) -> None:
    commands = get_commands()
    assert (commands["makemigrations"], commands["migrate"]) == ("myproject", "myproject")
    makemigrations = load_command_class("myproject", "makemigrations")
    migrate = load_command_class("myproject", "migrate")
    assert isinstance(makemigrations, MakemigrationsMixin)
    assert isinstance(migrate, MigrateMixin)
    # One class, otherapp's with the stages: Django's commands.E001 holds.
    from otherapp.autodetector import OtherAutodetector

    detector = makemigrations.autodetector  # type: ignore[attr-defined]
    assert detector is migrate.autodetector  # type: ignore[attr-defined]
    assert issubclass(detector, AutodetectorMixin)
    assert issubclass(detector, OtherAutodetector)
    assert detector.base_autodetector is OtherAutodetector
    ids = {message.id for message in run_checks()}
    assert "commands.E001" not in ids
    assert "green_makemigrations.E001" not in ids


@pytest.mark.parametrize(
    ("apps_order", "winner", "lost_option"),
    [
        (["otherapp", "green_makemigrations"], "otherapp", "--stage"),
        (["green_makemigrations", "otherapp"], "green_makemigrations", "--other-flag"),
    ],
    indirect=["apps_order"],
)
def test_without_the_recipe_one_app_loses_its_commands(
    apps_order: ModuleType, winner: str, lost_option: str
) -> None:
    """What the how-to says happens without a project app: the first app's commands run."""
    assert get_commands()["migrate"] == winner
    assert get_commands()["makemigrations"] == winner
    with pytest.raises(CommandError, match=f"unrecognized arguments: {lost_option}"):
        run("migrate", lost_option, *(["pre-deploy"] if lost_option == "--stage" else []))
    errors = [m for m in run_checks() if m.id == "green_makemigrations.E001"]
    if winner == "otherapp":
        assert [m.msg for m in errors] == [
            f"The '{name}' command comes from 'otherapp', not from green_makemigrations, "
            "so deploy stages are not applied."
            for name in ("makemigrations", "migrate")
        ]
        assert "MigrateMixin from green_makemigrations.commands" in errors[1].hint
    else:
        assert errors == []


# -- both apps' behaviour, run on the database --------------------------------------


def composed(*bases: type) -> BaseCommand:
    """Return an instance of a command class with bases."""
    return type("Command", bases, {})()  # type: ignore[no-any-return]


def other(name: str) -> type[BaseCommand]:
    return command_class("otherapp", name)


# How a project may combine the two commands: the how-to's recipe through
# INSTALLED_APPS, and both orders of the two Command classes as bases (each
# calls super(), so either order runs both).
ORDERS = {
    "recipe": lambda name: name,
    "green-first": lambda name: composed(
        {"makemigrations": green_makemigrations, "migrate": green_migrate}[name].Command,
        other(name),
    ),
    "other-first": lambda name: composed(
        other(name),
        {"makemigrations": green_makemigrations, "migrate": green_migrate}[name].Command,
    ),
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_both_apps_behaviours_run(empty_testapp: None, apps_order: ModuleType, order: str) -> None:
    command: Any = ORDERS[order]
    record = apps_order.RECORD
    with migration_module("initial", "remove_not_null") as module:
        # makemigrations writes the staged pair, which otherapp then checks.
        output = run(command("makemigrations"), APP_LABEL, "--other-flag", interactive=False)
        made = written(module.path, after="0002")  # imports each file
        assert [(m.name, m.stage) for m in made] == [
            ("0003_prepare_remove_book_subtitle", "PRE_DEPLOY"),
            ("0004_remove_book_subtitle", "POST_DEPLOY"),
        ]
        checked = [f"checked {APP_LABEL}.{m.name} strictly" for m in made]
        assert [f"otherapp: {line}" for line in checked] == [
            line for line in output.stdout.splitlines() if line.startswith("otherapp:")
        ]
        # otherapp's autodetector found them, as the stages' part of the class.
        assert record == [f"detected {APP_LABEL}.{m.name}" for m in made] + checked
        record.clear()

        # The release before is deployed; the stages follow, otherapp installs after each.
        run("migrate", APP_LABEL, "0002_book_subtitle", verbosity=0)
        record.clear()
        output = run(command("migrate"), APP_LABEL, "--stage", "pre-deploy", "--other-flag")
        assert applied() == {"0001_initial", "0002_book_subtitle", made[0].name}
        assert "Deploy stage: pre-deploy" in output.stdout
        assert f"Left for the post-deploy stage:\n  {APP_LABEL}.{made[1].name}" in output.stdout
        assert "otherapp: reinstalled objects on default" in output.stdout.splitlines()
        output = run(command("migrate"), APP_LABEL, "--stage", "post-deploy")
        assert applied() == {"0001_initial", "0002_book_subtitle", made[0].name, made[1].name}
        assert "otherapp: installed objects on default" in output.stdout.splitlines()
        assert record == ["reinstalled objects on default", "installed objects on default"]


def test_stock_makemigrations_runs_the_other_autodetector_alone(
    empty_testapp: None, apps_order: ModuleType
) -> None:
    with migration_module("initial", "remove_not_null") as module:
        run("makemigrations", APP_LABEL, "--stock", interactive=False, verbosity=0)
        assert [path.stem for path in sorted(module.path.glob("0003*.py"))] == [
            "0003_remove_book_subtitle"
        ]
        assert "stage = Stage" not in module.read("0003_remove_book_subtitle")
    assert apps_order.RECORD == [
        f"detected {APP_LABEL}.0003_remove_book_subtitle",
        f"checked {APP_LABEL}.0003_remove_book_subtitle leniently",
    ]


# -- the autodetector and the executor as mixins -----------------------------------


def test_green_autodetector_is_one_class_per_base() -> None:
    assert green_autodetector(MigrationAutodetector) is GreenMigrationAutodetector
    assert green_autodetector(GreenMigrationAutodetector) is GreenMigrationAutodetector
    assert GreenMigrationAutodetector.base_autodetector is MigrationAutodetector

    class Theirs(MigrationAutodetector):
        pass

    ours = green_autodetector(Theirs)
    assert ours is green_autodetector(Theirs)
    assert ours.__mro__[1:3] == (AutodetectorMixin, Theirs)
    with pytest.raises(TypeError, match="not to <class 'int'>"):
        green_autodetector(int)  # type: ignore[arg-type]


def test_an_autodetector_set_on_djangos_commands_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As django-pgtrigger sets its own on Django's commands in its ready()."""

    class Theirs(MigrationAutodetector):
        pass

    for module in (green_makemigrations, green_migrate):
        parent = module.Command.__mro__[2]
        monkeypatch.setattr(parent, "autodetector", Theirs)
    assert green_makemigrations.Command.autodetector is green_autodetector(Theirs)
    assert green_migrate.Command().autodetector is green_makemigrations.Command().autodetector


@pytest.mark.django_db
def test_migrate_builds_the_executor_class_it_is_given() -> None:
    class Timing(MigrationExecutor):
        """Another app's executor."""

    class StagedTiming(StagedExecutorMixin, Timing):
        pass

    with staged_executor(Stage.PRE_DEPLOY, executor_class=StagedTiming) as created:
        executor = django_migrate.MigrationExecutor(connection)
    assert created == [executor]
    assert isinstance(executor, Timing)
    assert executor.stage is Stage.PRE_DEPLOY
    assert django_migrate.MigrationExecutor is MigrationExecutor
