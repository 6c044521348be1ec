"""The autodetector on the field changes of issue 12, without a database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.db.migrations.state import ModelState, ProjectState

from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import PhasingError
from green_makemigrations.questioner import GreenQuestioner
from green_makemigrations.sync import ReplaceColumn

from .helpers import apply_operations, make_project_state

Field = models.Field  # type: ignore[type-arg]


def state(field: Field | None, options: dict[str, Any] | None = None) -> ProjectState:
    fields: list[tuple[str, Field]] = [
        ("id", models.AutoField(primary_key=True)),
        ("a", models.IntegerField()),
    ]
    if field is not None:
        fields.append(("n", field))
    return make_project_state(
        [
            ModelState("testapp", "Owner", [("id", models.AutoField(primary_key=True))], {}),
            ModelState("testapp", "Meter", fields, options or {}),
        ]
    )


def staged(from_state: ProjectState, to_state: ProjectState) -> dict[Stage, list[Any]]:
    changes = GreenMigrationAutodetector(from_state, to_state, GreenQuestioner())._detect_changes()
    by_stage: dict[Stage, list[Any]] = {Stage.PRE_DEPLOY: [], Stage.POST_DEPLOY: []}
    for migration in changes.get("testapp", []):
        by_stage[migration.stage] += migration.operations
    return by_stage


def names(operations: list[Any]) -> list[str]:
    return [type(operation).__name__ for operation in operations]


COLUMN_CHANGES = [
    (models.IntegerField(), models.IntegerField(db_column="col_n")),
    (models.IntegerField(db_column="col_n"), models.IntegerField()),
    (models.IntegerField(db_column="col_a"), models.IntegerField(db_column="col_b")),
    (models.IntegerField(null=True), models.IntegerField(db_column="col_n", default=1)),
    (models.IntegerField(null=True), models.IntegerField(null=True, db_column="col_n")),
    (models.IntegerField(), models.BigIntegerField(db_column="col_n")),
    (models.CharField(max_length=5), models.CharField(max_length=9, db_column="col_n")),
    (models.IntegerField(unique=True), models.IntegerField(unique=True, db_column="col_n")),
    (models.IntegerField(db_column="a" * 63), models.IntegerField(db_column="b" * 63)),
]


@pytest.mark.parametrize(("old", "new"), COLUMN_CHANGES)
def test_db_column_change_is_an_expand_contract(old: Field, new: Field) -> None:
    """The new column is added and synced in pre-deploy and replaces the old one after."""
    from_state, to_state = state(old), state(new)
    by_stage = staged(from_state, to_state)
    pre, post = by_stage[Stage.PRE_DEPLOY], by_stage[Stage.POST_DEPLOY]
    # An indexed column's index is built without blocking writes.
    added = "AddFieldIndexConcurrently" if new.unique or new.db_index else "AddField"
    expected_pre = [added, "SyncRetypedColumn"]
    if not old.null:
        expected_pre.insert(0, "AlterField")  # the new release's inserts omit the old column
        assert pre[0].field.null is True
    assert names(pre) == expected_pre
    assert names(post)[0] == "ReplaceColumn"
    assert names(post)[1:] in ([], ["SetNotNull"], ["AlterField"])
    # The replacement has the final column from the start: the swap renames nothing.
    shadow = pre[-2].field.clone()
    shadow.set_attributes_from_name(pre[-2].name)
    final = new.clone()
    final.set_attributes_from_name("n")
    assert shadow.column == final.column
    assert shadow.null is True
    # Applied in order, the operations end with the new release's field.
    end = apply_operations(from_state, "testapp", [*pre, *post])
    assert GreenMigrationAutodetector(end, to_state, GreenQuestioner())._detect_changes() == {}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            models.ForeignKey("testapp.Owner", models.CASCADE),
            models.ForeignKey("testapp.Owner", models.CASCADE, db_column="owner"),
            "Changing the column of testapp.meter.n: its column changes (n_id -> owner), and "
            "it is a relation. Keep its column (db_column='n_id'",
        ),
        (
            models.IntegerField(db_column="COL"),
            models.IntegerField(db_column="col"),
            "its column changes only in case (COL -> col): one column on MariaDB/MySQL",
        ),
        (
            models.IntegerField(db_column="COL"),
            models.BigIntegerField(db_column="col"),
            "IntegerField -> BigIntegerField rewrites the table, and its column changes only in "
            "case (COL -> col)",
        ),
    ],
)
def test_db_column_change_refused(old: Field, new: Field, message: str) -> None:
    with pytest.raises(PhasingError) as refusal:
        staged(state(old), state(new))
    assert message in str(refusal.value)


def test_db_column_named_in_meta_indexes_is_refused() -> None:
    options = {"indexes": [models.Index(fields=["n"], name="n_idx")]}
    with pytest.raises(PhasingError, match="Changing the column of .*Meta.indexes has n_idx"):
        staged(
            state(models.IntegerField(), options),
            state(models.IntegerField(db_column="col_n"), options),
        )


def test_replace_column_of_a_db_column_change_keeps_final_column() -> None:
    by_stage = staged(state(models.IntegerField()), state(models.IntegerField(db_column="c")))
    [replace] = [op for op in by_stage[Stage.POST_DEPLOY] if isinstance(op, ReplaceColumn)]
    assert replace.deconstruct()[2] == {
        "model_name": "meter",
        "old_name": "n",
        "new_name": "n_retyped",
    }


@pytest.mark.parametrize(
    ("field", "options", "how"),
    [
        (models.CharField(max_length=5, unique=True, default="x"), {}, "unique=True"),
        (models.CharField(max_length=5, unique=True, blank=True), {}, "unique=True"),
        (
            models.IntegerField(default=1),
            {"unique_together": {("a", "n")}},
            "in Meta.unique_together ('a', 'n')",
        ),
        (
            models.IntegerField(default=int),
            {"constraints": [models.UniqueConstraint(fields=["n"], name="u")]},
            "in UniqueConstraint 'u'",
        ),
    ],
)
def test_unique_field_added_with_constant_default_is_refused(
    field: Field, options: dict[str, Any], how: str
) -> None:
    with pytest.raises(PhasingError) as refusal:
        staged(state(None, {}), state(field, options))
    message = str(refusal.value)
    assert f"Adding testapp.meter.n: it is NOT NULL, it is unique ({how})" in message
    assert "Add it with null=True, fill unique values" in message


@pytest.mark.parametrize(
    ("options", "prep_null"),
    [
        ({}, False),  # not unique: db_default kept NOT NULL
        ({"unique_together": {("a", "n")}}, False),  # dropped in pre-deploy
        ({"constraints": [models.UniqueConstraint(fields=["n"], name="u")]}, False),
    ],
)
def test_removed_field_unique_only_through_meta_keeps_database_default(
    options: dict[str, Any], prep_null: bool
) -> None:
    by_stage = staged(state(models.IntegerField(default=1), options), state(None, {}))
    [prep] = [op for op in by_stage[Stage.PRE_DEPLOY] if type(op).__name__ == "AlterField"]
    assert prep.field.null is prep_null
    assert prep.field.db_default == 1


def test_removed_unique_field_with_default_is_made_nullable() -> None:
    by_stage = staged(state(models.IntegerField(default=1, unique=True)), state(None))
    [prep] = by_stage[Stage.PRE_DEPLOY]
    assert prep.field.null is True
    assert names(by_stage[Stage.POST_DEPLOY]) == ["RemoveField"]


def test_removed_unique_field_refused_when_nullable_declined() -> None:
    questioner = GreenQuestioner(defaults={"ask_nullable_fallback": False})
    autodetector = GreenMigrationAutodetector(
        state(models.IntegerField(default=1, unique=True)), state(None), questioner
    )
    with pytest.raises(PhasingError) as refusal:
        autodetector._detect_changes()
    message = str(refusal.value)
    assert "Removing testapp.meter.n: it is unique (unique=True)" in message
    assert "Drop unique=True in one release" in message


class Informed(GreenQuestioner):
    """A questioner keeping what it is told."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[str] = []

    def inform(self, message: str) -> None:
        self.told.append(message)


@pytest.mark.parametrize(
    ("old", "new", "fits"),
    [
        (models.IntegerField(), models.IntegerField(db_column="c"), False),
        (models.CharField(max_length=5), models.CharField(max_length=9, db_column="c"), True),
        (models.IntegerField(), models.BigIntegerField(db_column="c"), True),
    ],
)
def test_db_column_change_says_what_happens(old: Field, new: Field, fits: bool) -> None:
    questioner = Informed()
    GreenMigrationAutodetector(state(old), state(new), questioner)._detect_changes()
    [told] = questioner.told
    assert "so column c is added and kept in sync with n by triggers" in told
    assert "Keep db_column='n' to change nothing in the database." in told
    assert ("must fit the old column's type" in told) is fits
