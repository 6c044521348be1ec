"""Renames that change a database name are reported in one line: phased, and how to avoid it."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.migrations.state import ModelState

from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.questioner import GreenQuestioner

from .helpers import make_project_state


class RecordingQuestioner(GreenQuestioner):
    def __init__(self) -> None:
        super().__init__(defaults={"ask_rename": True, "ask_rename_model": True})
        self.told: list[str] = []

    def inform(self, message: str) -> None:
        self.told.append(message)


def detect(before: list[ModelState], after: list[ModelState]) -> list[str]:
    questioner = RecordingQuestioner()
    GreenMigrationAutodetector(
        make_project_state(before), make_project_state(after), questioner
    )._detect_changes()
    return questioner.told


def book(model: str = "Book", options: dict[str, Any] | None = None, **fields: Any) -> ModelState:
    return ModelState(
        "testapp",
        model,
        [("id", models.AutoField(primary_key=True)), *fields.items()],
        options or {},
    )


def test_field_rename_that_renames_the_column_is_reported() -> None:
    told = detect(
        [book(title=models.CharField(max_length=9))], [book(name=models.CharField(max_length=9))]
    )
    assert told == [
        "Renaming testapp.book.title to name renames column title to name: phased (new "
        "column kept in sync by triggers until post-deploy). Keep db_column='title' to "
        "rename without touching the database."
    ]


def test_field_rename_that_keeps_the_column_is_quiet() -> None:
    told = detect(
        [book(title=models.CharField(max_length=9))],
        [book(name=models.CharField(max_length=9, db_column="title"))],
    )
    assert told == []


def test_model_rename_that_renames_the_table_is_reported() -> None:
    told = detect(
        [book("Book", title=models.CharField(max_length=9))],
        [book("Volume", title=models.CharField(max_length=9))],
    )
    assert told == [
        "Renaming testapp.Book to Volume renames table testapp_book to testapp_volume: "
        "phased (a view named testapp_book serves the running release until post-deploy). "
        "Keep db_table='testapp_book' to rename without touching the database."
    ]


def test_model_rename_that_keeps_the_table_is_quiet() -> None:
    told = detect(
        [book("Book", title=models.CharField(max_length=9))],
        [book("Volume", {"db_table": "testapp_book"}, title=models.CharField(max_length=9))],
    )
    assert told == []


def test_each_phased_rename_gets_one_line() -> None:
    told = detect(
        [book("Book", title=models.CharField(max_length=9), pages=models.IntegerField(null=True))],
        [
            book(
                "Volume", name=models.CharField(max_length=9), leaves=models.IntegerField(null=True)
            )
        ],
    )
    assert len(told) == 3, told
    assert all("\n" not in message for message in told)
    assert told[0].startswith("Renaming testapp.Book to Volume renames table testapp_book")
    assert sorted(message.split(" renames ")[0] for message in told[1:]) == [
        "Renaming testapp.volume.pages to leaves",
        "Renaming testapp.volume.title to name",
    ]
