"""Making a field NOT NULL waits for post-deploy: the old release may write NULL."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.migrations import Migration
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ModelState

from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.constants import Stage

from .helpers import describe_changes, make_project_state


def book(**fields: models.Field[Any, Any]) -> ModelState:
    return ModelState(
        "testapp", "Book", [("id", models.AutoField(primary_key=True)), *fields.items()]
    )


def detect(
    before: list[ModelState], after: list[ModelState], **answers: Any
) -> dict[str, list[Migration]]:
    return GreenMigrationAutodetector(
        make_project_state(before),
        make_project_state(after),
        MigrationQuestioner(defaults=answers),
    )._detect_changes()


def summary(changes: dict[str, list[Migration]]) -> list[tuple[Stage, list[str]]]:
    return [
        (m.stage, [type(op).__name__ for op in m.operations])  # type: ignore[attr-defined]
        for m in changes["testapp"]
    ]


def test_making_a_field_not_null_with_a_default_is_post_deploy() -> None:
    changes = detect(
        [book(isbn=models.CharField(max_length=20, null=True))],
        [book(isbn=models.CharField(max_length=20, default="unknown"))],
    )
    assert summary(changes) == [(Stage.POST_DEPLOY, ["SetNotNull"])], describe_changes(changes)
    [operation] = changes["testapp"][0].operations
    assert operation.field.null is False
    assert operation.field.default == "unknown"


def test_making_a_field_not_null_without_a_default_is_post_deploy() -> None:
    # Django's questioner gives the one-off default that fills existing NULLs.
    changes = detect(
        [book(pages=models.IntegerField(null=True))],
        [book(pages=models.IntegerField())],
    )
    assert summary(changes) == [(Stage.POST_DEPLOY, ["SetNotNull"])]
    assert changes["testapp"][0].operations[0].preserve_default is False


def test_making_a_field_nullable_is_pre_deploy() -> None:
    changes = detect(
        [book(pages=models.IntegerField())],
        [book(pages=models.IntegerField(null=True))],
    )
    assert summary(changes) == [(Stage.PRE_DEPLOY, ["AlterField"])]


def test_other_alterations_stay_pre_deploy() -> None:
    changes = detect(
        [book(title=models.CharField(max_length=20, null=True))],
        [book(title=models.CharField(max_length=50, null=True))],
    )
    assert summary(changes) == [(Stage.PRE_DEPLOY, ["AlterField"])]


def test_not_null_alongside_an_addition_splits_into_two_migrations() -> None:
    changes = detect(
        [book(pages=models.IntegerField(null=True))],
        [
            book(
                pages=models.IntegerField(default=0), isbn=models.CharField(max_length=9, null=True)
            )
        ],
    )
    assert summary(changes) == [
        (Stage.PRE_DEPLOY, ["AddField"]),
        (Stage.POST_DEPLOY, ["SetNotNull"]),
    ]


def test_set_not_null_round_trips_through_a_migration_file(tmp_path: Any) -> None:
    import importlib.util

    from green_makemigrations.operations import SetNotNull
    from green_makemigrations.writer import StagedMigrationWriter

    operation = SetNotNull(
        "book", "pages", models.IntegerField(default=0), preserve_default=False, batch_size=50
    )
    migration = Migration("0002_pages_not_null", "testapp")
    migration.operations = [operation]
    migration.stage = Stage.POST_DEPLOY  # type: ignore[attr-defined]
    migration.atomic = False  # type: ignore[misc]
    text = StagedMigrationWriter(migration).as_string()
    assert "green_makemigrations.operations.SetNotNull(" in text
    assert "    atomic = False\n" in text
    path = tmp_path / "0002_pages_not_null.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("written_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    [loaded] = module.Migration.operations
    name, args, kwargs = loaded.deconstruct()
    expected_name, expected_args, expected_kwargs = operation.deconstruct()
    assert (name, args) == (expected_name, expected_args)
    assert kwargs.pop("field").deconstruct()[1:] == expected_kwargs.pop("field").deconstruct()[1:]
    assert kwargs == expected_kwargs
    assert loaded.batch_size == 50
    assert module.Migration.atomic is False
    assert module.Migration.stage is Stage.POST_DEPLOY
