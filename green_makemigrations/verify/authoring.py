"""The proof of the migrations makemigrations is about to write.

The deploy it proves starts where the migrations on disk end (all of them
deployed: the release being written is the next one) and applies the new
migrations. With ``--update``, the migrations being replaced are not
deployed (Django refuses to update an applied one) and leave the graph.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState

from .proof import Proof, prove

MigrationKey = tuple[str, str]


class FileExecutor(MigrationExecutor):
    """A MigrationExecutor that plans over a given loader and never touches a database."""

    def __init__(self, loader: MigrationLoader) -> None:
        # Not Django's __init__: it would load the migrations again, from a connection.
        self.connection = None  # type: ignore[assignment]
        self.loader = loader
        self.recorder = None  # type: ignore[assignment]
        self.progress_callback = None


def prove_new_migrations(
    changes: Mapping[str, Sequence[Migration]],
    connection: Any,
    *,
    replaced: Collection[MigrationKey] = (),
    accept: Collection[str] = (),
    old_state: ProjectState | None = None,
    graph: MigrationGraph | None = None,
) -> Proof:
    """Prove the deploy of changes' migrations over every migration on disk.

    old_state is the autodetector's state of the migrations on disk, which
    spares the proof building it again (not with replaced migrations). Its
    new state is not used: the autodetector changes it while it works.
    graph, with old_state, is the graph of the migrations on disk the
    autodetector was given, which spares loading them again; it is not
    changed.
    """
    if graph is not None and old_state is not None and not replaced:
        loader = MigrationLoader(None, load=False)
        loader.graph = graph
        # What build_graph() would have found: the state's apps without migrations.
        loader.unmigrated_apps = set(old_state.real_apps)
        loader.migrated_apps = {app_label for app_label, _name in graph.nodes}
    else:
        # As makemigrations loads them: an app whose migrations module does not exist yet counts.
        loader = MigrationLoader(None, ignore_no_migrations=True)
    executor = FileExecutor(loader)
    graph = _graph_with(loader, changes, set(replaced))
    loader.graph = graph
    new = {(app_label, m.name) for app_label, migrations in changes.items() for m in migrations}
    loader.applied_migrations = {
        key: migration
        for key, migration in graph.nodes.items()
        if key not in new and migration is not None
    }
    return prove(
        executor,
        connection,
        database=connection.alias,
        accept=accept,
        old_state=None if replaced else old_state,
    )


def _graph_with(
    loader: MigrationLoader,
    changes: Mapping[str, Sequence[Migration]],
    replaced: set[MigrationKey],
) -> MigrationGraph:
    """Return a copy of the loader's graph without the replaced nodes, with the new migrations."""
    graph = loader.graph
    result = MigrationGraph()
    for key, migration in graph.nodes.items():
        if key not in replaced:
            result.add_node(key, migration)
    for key, node in graph.node_map.items():
        if key in replaced:
            continue
        for parent in node.parents:
            if parent.key not in replaced:
                result.add_dependency(None, key, parent.key, skip_validation=True)
    for app_label, migrations in changes.items():
        for migration in migrations:
            result.add_node((app_label, migration.name), migration)
    for app_label, migrations in changes.items():
        for migration in migrations:
            for dependency in migration.dependencies:
                parent = _resolve(result, tuple(dependency), app_label)
                if parent is not None:
                    result.add_dependency(
                        migration, (app_label, migration.name), parent, skip_validation=True
                    )
    result.validate_consistency()
    return result


def _resolve(graph: MigrationGraph, key: tuple[str, ...], app_label: str) -> MigrationKey | None:
    """Return the node a new migration's dependency names (None: none to wait for).

    The autodetector's own migrations name a swappable model's app as
    ``("__setting__", "AUTH_USER_MODEL")`` (written as swappable_dependency()),
    and an app's first or latest migration as ``__first__``/``__latest__``.
    """
    dependency_app, name = key[0], key[1]
    if dependency_app == "__setting__":
        dependency_app, name = getattr(settings, name).split(".")[0], "__first__"
    if name not in ("__first__", "__latest__"):
        return (dependency_app, name)
    if dependency_app == app_label:
        return None
    nodes = (graph.root_nodes if name == "__first__" else graph.leaf_nodes)(dependency_app)
    return nodes[0] if nodes else None  # an app without migrations: nothing to wait for


def unproven_message(lines: Sequence[str]) -> str:
    """Return makemigrations' refusal for a plan its proofs reject (lines: their reports)."""
    return (
        "makemigrations refuses to write migrations it cannot prove safe for a rolling "
        "deploy:\n"
        + "\n".join(lines)
        + "\nNothing was written. Change the models as each problem's fix says (or split the "
        "change over two releases); `makemigrations --skip-verify` writes them anyway, and "
        "`makemigrations --stock` writes Django's own migrations."
    )
