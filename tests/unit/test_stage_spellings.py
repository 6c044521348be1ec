"""One rule for spelling a stage: settings, migration files and the command line agree.

``Stage.from_label()`` is the rule. What ``GREEN_MAKEMIGRATIONS['STAGES']``
accepts, a migration's ``stage`` attribute accepts too, and both refuse the
same values with the same list of spellings.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandParser
from django.test.utils import override_settings

from green_makemigrations.conf import stage_overrides
from green_makemigrations.constants import STAGE_CHOICES, STAGE_SPELLINGS, Stage
from green_makemigrations.exceptions import StageConfigurationError
from green_makemigrations.management.commands.migrate import Command as MigrateCommand
from green_makemigrations.plan import written_stage

from .helpers import make_migration

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY

SPELLINGS: list[tuple[Any, Stage]] = [
    (PRE, PRE),
    (POST, POST),
    ("pre_deploy", PRE),
    ("post_deploy", POST),
    ("pre-deploy", PRE),
    ("post-deploy", POST),
    ("PRE-DEPLOY", PRE),
    (" Post_Deploy ", POST),
]
REFUSED: list[Any] = ["pre", "post deploy", "predeploy", "", "mid_deploy", 1, None]


@pytest.mark.parametrize(("value", "stage"), SPELLINGS, ids=repr)
def test_settings_and_migration_files_accept_the_same_spellings(value: Any, stage: Stage) -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {"testapp": value}}):
        assert stage_overrides() == {"testapp": stage}
    migration = make_migration("testapp", "0002_x", stage=value)
    assert written_stage(migration) is stage
    assert Stage.from_label(value) is stage


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_settings_and_migration_files_refuse_the_same_values(value: Any) -> None:
    with (
        override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {"testapp": value}}),
        pytest.raises(StageConfigurationError) as from_settings,
    ):
        stage_overrides()
    assert STAGE_SPELLINGS in str(from_settings.value)
    migration = make_migration("testapp", "0002_x")
    migration.stage = value  # type: ignore[attr-defined]
    if value is None:
        assert written_stage(migration) is None  # no stage written: inferred
        return
    with pytest.raises(StageConfigurationError) as from_file:
        written_stage(migration)
    assert STAGE_SPELLINGS in str(from_file.value)


def test_the_command_line_takes_the_dashed_spellings() -> None:
    """migrate --stage offers the labels, which the same rule reads back."""
    assert STAGE_CHOICES == ["pre-deploy", "post-deploy"]
    parser: CommandParser = MigrateCommand().create_parser("manage.py", "migrate")
    for label in STAGE_CHOICES:
        assert Stage.from_label(parser.parse_args(["--stage", label]).stage) is Stage(
            label.replace("-", "_")
        )
