"""System checks: ``green_makemigrations.E001`` and following."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.core.management import get_commands, load_command_class

from . import conf
from .exceptions import GreenMigrationsError, StageConfigurationError

APP_NAME = "green_makemigrations"
OUR_COMMANDS = ("makemigrations", "migrate", "squashmigrations")


@register(Tags.compatibility)
def check_commands_not_shadowed(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001: another app's makemigrations, migrate or squashmigrations would run instead of ours.

    A command of another app that has our mixin (MakemigrationsMixin,
    MigrateMixin, SquashmigrationsMixin: a project's command composing ours
    with a third app's) is ours too.
    """
    from .commands import MakemigrationsMixin, MigrateMixin, SquashmigrationsMixin

    mixins: dict[str, type] = {
        "makemigrations": MakemigrationsMixin,
        "migrate": MigrateMixin,
        "squashmigrations": SquashmigrationsMixin,
    }
    commands = get_commands()
    errors: list[CheckMessage] = []
    for name in OUR_COMMANDS:
        owner = commands.get(name)
        if owner == APP_NAME:
            continue
        if owner is not None and isinstance(load_command_class(owner, name), mixins[name]):
            continue
        mixin = mixins[name].__name__
        errors.append(
            Error(
                f"The '{name}' command comes from '{owner}', not from "
                f"{APP_NAME}, so deploy stages are not applied.",
                hint=(
                    f"Put '{APP_NAME}' before '{owner}' in INSTALLED_APPS, or, to keep "
                    f"'{owner}''s command too, give it {mixin} from "
                    f"green_makemigrations.commands in a project app listed first "
                    "(see docs/howto/composition.rst)."
                ),
                id=f"{APP_NAME}.E001",
            )
        )
    return errors


STAGES_HINT = (
    "Keys of STAGES are installed app labels or 'app_label.migration_name'; a key that "
    "matches nothing is a typo or a leftover, and the migration it meant gets its stage "
    "inferred instead. Fix or remove it (see docs/reference/settings.rst)."
)


@register(Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002: the GREEN_MAKEMIGRATIONS setting is malformed, or a STAGES key matches no app.

    Keys naming a migration are checked against the migrations on disk by
    the database check below, which loads them anyway.
    """
    errors: list[CheckMessage] = [
        Error(message, hint="See docs/reference/settings.rst.", id=f"{APP_NAME}.E002")
        for message in conf.setting_errors()
    ]
    labels = {config.label for config in apps.get_app_configs()}
    errors += [
        Error(message, hint=STAGES_HINT, id=f"{APP_NAME}.E002")
        for message in conf.unmatched_stage_keys(labels)
    ]
    return errors


# Set while migrate runs its own checks: a stage run enforces E003/E004
# itself, on the graph it loads anyway, so loading a second one is waste.
stage_rules_enforced: ContextVar[bool] = ContextVar("stage_rules_enforced", default=False)


@register(Tags.database)
def check_migration_stages(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E002/E003/E004/W001/W002: what the stage rules say about the project's migrations.

    E002: a STAGES key names a migration its app does not have (on disk,
    replaced ones included); E003: a migration's stage is invalid; E004: a
    pre-deploy migration drops data (both stages refuse it); W001: a
    pre-deploy migration's RunSQL may drop or rename; W002: a migration
    renames a table or column by hand (see
    plan.rule_messages()). Errors cover every migration, warnings the ones
    not yet applied on the databases checked: advice on what has run is moot.

    A database check, run by ``check --database``: loading the migration
    graph takes time, and ``migrate --stage`` refuses the same mistakes.
    """
    databases = kwargs.get("databases")
    if not databases or stage_rules_enforced.get():
        return []
    from django.db.migrations.loader import MigrationLoader

    from .plan import graph_stages, rule_messages

    loader = MigrationLoader(None, ignore_no_migrations=True)
    try:
        stages = graph_stages(loader.graph)
    except StageConfigurationError as error:
        return [Error(str(error), id=f"{APP_NAME}.E003")]
    applied = _applied_everywhere(databases)
    labels = {config.label for config in apps.get_app_configs()}
    on_disk = set(loader.disk_migrations) | set(loader.graph.nodes)
    messages: list[CheckMessage] = [
        Error(message, hint=STAGES_HINT, id=f"{APP_NAME}.E002")
        for message in conf.unmatched_stage_keys(labels, on_disk)
    ]
    for key, info in sorted(stages.items()):
        migration = loader.graph.nodes[key]
        pending = key not in applied
        state_before = (lambda k: loader.project_state(k, at_end=False)) if pending else None
        for message in rule_messages(migration, info, state_before):
            if not message.is_error and not pending:
                continue
            level = Error if message.is_error else CheckWarning
            messages.append(
                level(message.msg, hint=message.hint, obj=migration, id=f"{APP_NAME}.{message.id}")
            )
    return messages


def _applied_everywhere(databases: Iterable[str]) -> set[tuple[str, str]]:
    """Return the migrations applied on every one of databases (that can tell)."""
    from django.db import DatabaseError, connections
    from django.db.migrations.recorder import MigrationRecorder

    applied: set[tuple[str, str]] | None = None
    for alias in databases:
        try:
            keys = set(MigrationRecorder(connections[alias]).applied_migrations())
        except DatabaseError:  # pragma: no cover - an unreachable database: all pending
            keys = set()
        applied = keys if applied is None else applied & keys
    return applied or set()


@register(Tags.database)
def check_pending_plan_proven(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W003/W004: the proof of a checked database's pending plan fails (see verifystages).

    W003: at a moment of the deploy a release's query would fail; W004: an
    operation's effect cannot be known (RunSQL, RunPython) and is neither
    declared nor accepted. Warnings: ``migrate --stage pre-deploy`` stops on
    them itself, and ``verifystages`` says more.
    """
    databases = kwargs.get("databases")
    if not databases or stage_rules_enforced.get() or not conf.verify_enabled():
        return []
    from django.db import DatabaseError, connections
    from django.db.migrations.executor import MigrationExecutor

    from .executor import prove_pending

    messages: list[CheckMessage] = []
    for alias in sorted(databases):
        try:
            executor = MigrationExecutor(connections[alias])
            proof = prove_pending(executor, accept=conf.verify_accept())
        except DatabaseError:  # pragma: no cover - an unreachable database: nothing to prove
            continue
        except GreenMigrationsError:
            continue  # a stage or setting error, which E002/E003 report
        if proof.refusals:
            continue  # the stages cannot run as planned: the stage run and showstages say why
        nodes = executor.loader.graph.nodes
        for finding in proof.findings:
            where = finding.migration or "the final schema"
            messages.append(
                CheckWarning(
                    f"Database {alias!r}: {where}, {finding.moment}: the {finding.release} "
                    f"release breaks: {finding.brk.problem} ({finding.brk.model}).",
                    hint=finding.fix,
                    obj=_node(nodes, finding.migration),
                    id=f"{APP_NAME}.W003",
                )
            )
        for stage, item in proof.unproven:
            messages.append(
                CheckWarning(
                    f"Database {alias!r}: {item.migration}, operation {item.index} "
                    f"({item.description}, {stage}) is not proven.",
                    hint=item.reason + ".",
                    obj=_node(nodes, item.migration),
                    id=f"{APP_NAME}.W004",
                )
            )
    return messages


def _node(nodes: dict[tuple[str, str], Any], label: str | None) -> Any:
    """Return the migration called label ("app_label.name") in the graph, or None."""
    if label is None:
        return None
    app_label, _dot, name = label.partition(".")
    return nodes.get((app_label, name))
