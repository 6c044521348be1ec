"""Placing new pre-deploy migrations when the database tells which post-deploy ones are applied.

The questioner's ``applied_migrations`` (set by makemigrations from the
database it consults) says what is deployed: an applied post-deploy
migration is not pending, so nothing is placed beside it and nothing is
asked; with None (the database cannot tell) the user is asked as before.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.db.migrations import operations
from django.db.migrations.graph import MigrationGraph

from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import PhasingError

from .helpers import MigrationKey, make_graph, make_migration
from .test_autodetector import (
    RecordingQuestioner,
    after_pending_drop,
    graph_changes,
    initial_migration,
    names_and_dependencies,
    pending_drop_graph,
)

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY
SUBTITLE = ("subtitle", models.CharField(max_length=50, null=True))
INITIAL = ("testapp", "0001_initial")
PREP = ("testapp", "0002_prepare_remove_book_old")
DROP = ("testapp", "0003_remove_book_old")
NOTE_DROP = ("testapp", "0004_remove_book_note")


def knowing(applied: set[MigrationKey] | None) -> RecordingQuestioner:
    questioner = RecordingQuestioner()
    questioner.applied_migrations = None if applied is None else frozenset(applied)
    return questioner


def two_drops_graph() -> MigrationGraph:
    """pending_drop_graph() with a second drop after the first (post-deploy, leaf)."""
    graph = pending_drop_graph(initial_migration(("note", models.TextField(null=True))))
    return make_graph(
        [
            *(graph.nodes[key] for key in (INITIAL, PREP, DROP)),
            make_migration(
                *NOTE_DROP, [operations.RemoveField("book", "note")], [DROP], stage=POST
            ),
        ]
    )


def test_applied_drop_is_followed_without_a_question() -> None:
    questioner = knowing({INITIAL, PREP, DROP})
    changes = graph_changes(pending_drop_graph(), after_pending_drop(SUBTITLE), questioner)
    assert names_and_dependencies(changes, "testapp") == [("0004_book_subtitle", PRE, [DROP])]
    assert questioner.asked == []
    assert questioner.messages == [
        "testapp.0004_book_subtitle follows post-deploy migration "
        "testapp.0003_remove_book_old: the database has it applied."
    ]


@pytest.mark.parametrize("applied", [{INITIAL}, {INITIAL, PREP}])
def test_drop_not_applied_is_placed_beside_without_a_question(applied: set[Any]) -> None:
    questioner = knowing(applied)
    changes = graph_changes(pending_drop_graph(), after_pending_drop(SUBTITLE), questioner)
    assert names_and_dependencies(changes, "testapp") == [
        ("0004_book_subtitle", PRE, [PREP]),
        ("0005_post_deploy_merge", POST, [DROP, ("testapp", "0004_book_subtitle")]),
    ]
    assert questioner.asked == []


@pytest.mark.parametrize("applied", [None, set()], ids=["unknown", "app never migrated"])
def test_database_cannot_tell_asks(applied: set[Any] | None) -> None:
    # A database with none of the app's migrations applied (a new one, or
    # one never migrated) says nothing about where they are deployed.
    questioner = knowing(applied)
    changes = graph_changes(pending_drop_graph(), after_pending_drop(SUBTITLE), questioner)
    assert questioner.asked == [("ask_pending_deployed", ("testapp", "0003_remove_book_old"))]
    assert len(changes["testapp"]) == 2  # the default: beside it, and a merge


@pytest.mark.parametrize(
    ("applied", "placed_after"),
    [
        ({INITIAL, PREP}, PREP),  # neither drop applied: after the prep step
        ({INITIAL, PREP, DROP}, DROP),  # the first drop deployed: after it
    ],
)
def test_beside_what_is_not_applied_only(applied: set[Any], placed_after: MigrationKey) -> None:
    questioner = knowing(applied)
    changes = graph_changes(two_drops_graph(), after_pending_drop(SUBTITLE), questioner)
    assert names_and_dependencies(changes, "testapp") == [
        ("0005_book_subtitle", PRE, [placed_after]),
        ("0006_post_deploy_merge", POST, [NOTE_DROP, ("testapp", "0005_book_subtitle")]),
    ]
    assert questioner.asked == []


OLD_AGAIN = ("old", models.IntegerField(null=True))


def test_change_needing_an_undeployed_drop_first_is_refused() -> None:
    """The database says the drop has not run: no deploy could apply both, so refuse."""
    with pytest.raises(PhasingError) as refusal:
        graph_changes(pending_drop_graph(), after_pending_drop(OLD_AGAIN), knowing({INITIAL, PREP}))
    message = str(refusal.value)
    assert "post-deploy migration(s) testapp.0003_remove_book_old" in message
    assert "has not applied them" in message and "manage.py migrate" in message


@pytest.mark.parametrize(
    ("applied", "says"),
    [
        (None, "must follow post-deploy"),  # cannot tell: written after it, as before
        (set(), "must follow post-deploy"),  # the app never migrated there: cannot tell
        ({INITIAL, PREP, DROP}, "the database has it applied"),
    ],
    ids=["unknown", "app never migrated", "deployed"],
)
def test_change_needing_the_drop_first_follows_it_otherwise(
    applied: set[Any] | None, says: str
) -> None:
    questioner = knowing(applied)
    changes = graph_changes(pending_drop_graph(), after_pending_drop(OLD_AGAIN), questioner)
    ((name, stage, dependencies),) = names_and_dependencies(changes, "testapp")
    assert stage is PRE and dependencies == [DROP], (name, dependencies)
    assert any(says in message for message in questioner.messages), questioner.messages
