"""Regression tests for bugs that Django's autodetector tests revealed.

Each shows one case on its own: proxy models, bare graph nodes, composite
primary keys and order_with_respect_to. No database is involved.
"""

from __future__ import annotations

import pytest
from django.db import models
from django.db.migrations import Migration
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.state import ModelState, ProjectState

from green_makemigrations import rules
from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import PhasingError

AUTHOR = ModelState("testapp", "Author", [("id", models.AutoField(primary_key=True))])
BOOK = ModelState("testapp", "Book", [("id", models.AutoField(primary_key=True))])


def _state(*model_states: ModelState) -> ProjectState:
    state = ProjectState()
    for model_state in model_states:
        state.add_model(model_state.clone())
    return state


def _detect(before: list[ModelState], after: list[ModelState]) -> dict[str, list[Migration]]:
    return GreenMigrationAutodetector(_state(*before), _state(*after))._detect_changes()


def test_proxy_turned_concrete_is_one_pre_deploy_migration() -> None:
    proxy = ModelState("testapp", "AuthorProxy", [], {"proxy": True}, ("testapp.author",))
    concrete = ModelState("testapp", "AuthorProxy", [], {}, ("testapp.author",))

    changes = _detect([AUTHOR, proxy], [AUTHOR, concrete])

    (migration,) = changes["testapp"]
    assert [type(op).__name__ for op in migration.operations] == ["DeleteModel", "CreateModel"]
    assert migration.stage is Stage.PRE_DEPLOY  # type: ignore[attr-defined]


def test_arrange_for_graph_accepts_nodes_without_migration() -> None:
    graph = MigrationGraph()
    graph.add_node(("testapp", "0001_initial"), None)
    autodetector = GreenMigrationAutodetector(_state(BOOK), _state(BOOK, AUTHOR))

    changes = autodetector.arrange_for_graph(autodetector._detect_changes(), graph)

    assert changes["testapp"][0].name == "0002_author"
    assert changes["testapp"][0].dependencies == [("testapp", "0001_initial")]


def test_composite_primary_key_removal_needs_no_prep() -> None:
    assert rules.removal_prep(models.CompositePrimaryKey("author_id", "book_id")).field is None


@pytest.mark.parametrize("setting", [False, True], ids=["dropped", "set"])
def test_order_with_respect_to_of_an_existing_table_is_refused(setting: bool) -> None:
    def author(options: dict[str, str]) -> ModelState:
        fields = [
            ("id", models.AutoField(primary_key=True)),
            ("book", models.ForeignKey("testapp.Book", models.CASCADE)),
        ]
        return ModelState("testapp", "Author", fields, options)

    # _order is NOT NULL without a database default: while it exists, the
    # release that does not know it (the old one when it is added, the new
    # one until post-deploy drops it) cannot insert.
    ordered, plain = author({"order_with_respect_to": "book"}), author({})
    before, after = [BOOK, plain], [BOOK, ordered]
    if not setting:
        before, after = after, before
    with pytest.raises(PhasingError) as refusal:
        _detect(before, after)
    verb = "Setting" if setting else "Removing"
    assert str(refusal.value).startswith(f"{verb} order_with_respect_to"), refusal.value
    assert "testapp.Author" in str(refusal.value) and "--stock" in str(refusal.value)


def test_order_with_respect_to_of_a_new_model_is_kept() -> None:
    fields = [
        ("id", models.AutoField(primary_key=True)),
        ("book", models.ForeignKey("testapp.Book", models.CASCADE)),
    ]
    ordered = ModelState("testapp", "Author", fields, {"order_with_respect_to": "book"})
    changes = _detect([BOOK], [BOOK, ordered])
    (migration,) = changes["testapp"]
    assert migration.stage is Stage.PRE_DEPLOY  # type: ignore[attr-defined]
