"""Which operations of a migration change a database's schema, as the routers decide.

Django applies every migration on each database it migrates, and records it in
that database's ``django_migrations``; each operation changes the schema only
where the project's routers allow it. A model operation asks
``allow_migrate_model(alias, model)``, ``RunSQL`` and ``RunPython`` ask
``router.allow_migrate(alias, app_label, **hints)``. The proof, ``showstages``
and the exercise ask the routers the same questions, about model states that
are never rendered: the hints are ``model_name`` and, while the model exists in
the project's code, ``model`` (its class). Without ``DATABASE_ROUTERS`` every
answer is yes, and nothing is asked.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation


def routed() -> bool:
    """Return whether the project has routers (else every database holds every model)."""
    return bool(router.routers)


def migrated_databases() -> list[str]:
    """Return the databases ``migrate`` runs on, as far as the routers tell: default first.

    Without routers, the default database (Django's makemigrations checks
    its history alone). With them, each database the routers let hold a
    model of an installed app: a replica they keep every model off is not
    migrated.
    """
    if not router.routers:
        return [DEFAULT_DB_ALIAS]
    models = global_apps.get_models()
    return [
        alias
        for alias in sorted(connections, key=lambda alias: (alias != DEFAULT_DB_ALIAS, alias))
        if connections[alias].settings_dict["ENGINE"] != "django.db.backends.dummy"
        and any(router.allow_migrate_model(alias, model) for model in models)
    ]


def allows_model(alias: str, app_label: str, model_name: str) -> bool:
    """Return whether the routers let database alias hold model app_label.model_name's tables."""
    if not router.routers:
        return True
    hints: dict[str, Any] = {"model_name": model_name.lower()}
    try:
        hints["model"] = global_apps.get_model(app_label, model_name)
    except LookupError:
        pass  # a model the code no longer has (or not yet): its name only
    return bool(router.allow_migrate(alias, app_label, **hints))


def allows_operation(alias: str, app_label: str, operation: Operation) -> bool:
    """Return whether operation changes database alias's schema (or data), as Django runs it.

    RunSQL and RunPython ask the routers with their hints; a
    SeparateDatabaseAndState runs where one of its database operations
    does; an operation on a model where the routers let the model's tables
    be. Other operations (third-party ones naming no model) count as run.
    """
    if not router.routers:
        return True
    if isinstance(operation, operations.SeparateDatabaseAndState):
        return any(allows_operation(alias, app_label, op) for op in operation.database_operations)
    if isinstance(operation, (operations.RunSQL, operations.RunPython)):
        return bool(router.allow_migrate(alias, app_label, **operation.hints))
    model_name = model_of(operation)
    return model_name is None or allows_model(alias, app_label, model_name)


def model_of(operation: Operation) -> str | None:
    """Return the name of the model whose tables operation changes, as Django routes it."""
    if isinstance(operation, operations.RenameModel):
        return str(operation.new_name_lower)  # Django asks about the renamed model
    for attribute in ("model_name_lower", "name_lower"):
        name = getattr(operation, attribute, None)
        if isinstance(name, str):
            return name
    return None
