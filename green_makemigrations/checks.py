"""System checks: ``green_makemigrations.E001`` and following."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register
from django.core.management import get_commands

from . import conf
from .constants import Stage
from .exceptions import StageConfigurationError

APP_NAME = "green_makemigrations"
OUR_COMMANDS = ("makemigrations", "migrate")


@register(Tags.compatibility)
def check_commands_not_shadowed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: another app's makemigrations or migrate would run instead of ours."""
    commands = get_commands()
    errors: list[CheckMessage] = []
    for name in OUR_COMMANDS:
        owner = commands.get(name)
        if owner != APP_NAME:
            errors.append(
                Error(
                    f"The '{name}' command comes from '{owner}', not from "
                    f"{APP_NAME}, so deploy stages are not applied.",
                    hint=f"Put '{APP_NAME}' before '{owner}' in INSTALLED_APPS.",
                    id=f"{APP_NAME}.E001",
                )
            )
    return errors


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002: the GREEN_MAKEMIGRATIONS setting is malformed."""
    return [
        Error(message, hint="See the Settings section of the README.", id=f"{APP_NAME}.E002")
        for message in conf.setting_errors()
    ]


# Set while migrate runs its own checks: a stage run enforces E003/E004
# itself, on the graph it loads anyway, so loading a second one is waste.
stage_rules_enforced: ContextVar[bool] = ContextVar("stage_rules_enforced", default=False)


@register(Tags.database)
def check_migration_stages(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E003/E004: a migration's stage is invalid, or pre-deploy yet drops data.

    A database check, run by ``check --database``: loading the migration
    graph takes time, and ``migrate --stage`` refuses the same mistakes.
    """
    if not kwargs.get("databases") or stage_rules_enforced.get():
        return []
    from django.db.migrations.loader import MigrationLoader

    from .plan import data_drops, graph_stages

    loader = MigrationLoader(None, ignore_no_migrations=True)
    try:
        stages = graph_stages(loader.graph)
    except StageConfigurationError as error:
        return [Error(str(error), id=f"{APP_NAME}.E003")]
    errors: list[CheckMessage] = []
    for key, info in sorted(stages.items()):
        if info.stage is not Stage.PRE_DEPLOY:
            continue
        migration = loader.graph.nodes[key]
        drops = data_drops(migration, lambda k: loader.project_state(k, at_end=False))
        if drops:
            errors.append(
                Error(
                    f"Migration {key[0]}.{key[1]} is pre-deploy ({info.source}) but "
                    f"drops data: {drops[0].describe()}.",
                    hint="Mark it `stage = Stage.POST_DEPLOY`, or move the drop to a "
                    "post-deploy migration.",
                    obj=migration,
                    id=f"{APP_NAME}.E004",
                )
            )
    return errors
