"""The graph makemigrations' proof builds: migrations on disk plus the new ones."""

from __future__ import annotations

from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader

from green_makemigrations.verify.authoring import _graph_with


def new_migration(app_label: str, name: str, dependencies: list[tuple[str, str]]) -> Migration:
    migration = Migration(name, app_label)
    migration.dependencies = dependencies
    return migration


def test_new_migrations_depend_on_what_the_autodetector_names() -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    auth_root = loader.graph.root_nodes("auth")[0]
    contenttypes_leaf = loader.graph.leaf_nodes("contenttypes")[0]
    first = new_migration(
        "shop",
        "0001_initial",
        # As the autodetector writes them before MigrationWriter turns the
        # first into swappable_dependency(settings.AUTH_USER_MODEL).
        [("__setting__", "AUTH_USER_MODEL"), ("contenttypes", "__latest__"), ("shop", "__first__")],
    )
    second = new_migration("shop", "0002_more", [("shop", "0001_initial")])
    graph = _graph_with(loader, {"shop": [first, second]}, set())
    parents = {node.key for node in graph.node_map[("shop", "0001_initial")].parents}
    assert parents == {auth_root, contenttypes_leaf}
    assert graph.forwards_plan(("shop", "0002_more"))[-2:] == [
        ("shop", "0001_initial"),
        ("shop", "0002_more"),
    ]


def test_replaced_migrations_leave_the_graph() -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaf = loader.graph.leaf_nodes("auth")[0]
    graph = _graph_with(loader, {}, {leaf})
    assert leaf not in graph.nodes
    assert graph.leaf_nodes("auth")[0] != leaf
