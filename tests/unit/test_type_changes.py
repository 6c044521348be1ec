"""Type changes: which run in place, which are expanded, which are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.db.migrations import AddField, Migration
from django.db.migrations.state import ModelState
from django.db.migrations.writer import MigrationWriter

from green_makemigrations import rules
from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.exceptions import PhasingError
from green_makemigrations.questioner import GreenQuestioner
from green_makemigrations.rules import Retype
from green_makemigrations.sync import ReplaceColumn

from .helpers import apply_operations, describe_changes, load_module, make_project_state

Field = models.Field  # type: ignore[type-arg]


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (models.CharField(max_length=10), models.CharField(max_length=20), Retype.IN_PLACE),
        (models.CharField(max_length=10), models.TextField(), Retype.IN_PLACE),
        (models.CharField(max_length=10), models.SlugField(max_length=10), Retype.NONE),
        (models.CharField(max_length=20), models.CharField(max_length=10), Retype.REFUSE),
        (models.TextField(), models.CharField(max_length=10), Retype.REFUSE),
        (
            models.DecimalField(max_digits=5, decimal_places=2),
            models.DecimalField(max_digits=8, decimal_places=2),
            Retype.IN_PLACE,
        ),
        (
            models.DecimalField(max_digits=5, decimal_places=2),
            models.DecimalField(max_digits=8, decimal_places=4),
            Retype.EXPAND,
        ),
        (
            models.DecimalField(max_digits=5, decimal_places=2),
            models.DecimalField(max_digits=5, decimal_places=1),
            Retype.REFUSE,
        ),
        (models.IntegerField(), models.BigIntegerField(), Retype.EXPAND),
        (models.SmallIntegerField(), models.IntegerField(), Retype.EXPAND),
        (models.IntegerField(), models.PositiveIntegerField(), Retype.IN_PLACE),
        (models.BigIntegerField(), models.IntegerField(), Retype.REFUSE),
        (models.AutoField(primary_key=True), models.BigAutoField(primary_key=True), Retype.EXPAND),
        (models.IntegerField(), models.CharField(max_length=10), Retype.REFUSE),
        (models.IntegerField(), models.FloatField(), Retype.REFUSE),
        (models.IntegerField(), models.IntegerField(null=True), Retype.NONE),
        (models.IntegerField(), models.ForeignKey("testapp.Other", models.CASCADE), Retype.NONE),
    ],
)
def test_type_change(old: Field, new: Field, kind: Retype) -> None:
    assert rules.type_change(old, new).kind is kind


def test_retype_blockers() -> None:
    index = models.Index(fields=["n"], name="n_idx")
    assert rules.retype_blockers(models.IntegerField(), {}, "n") is None
    assert "primary key" in str(rules.retype_blockers(models.AutoField(primary_key=True), {}, "n"))
    assert "n_idx" in str(rules.retype_blockers(models.IntegerField(), {"indexes": [index]}, "n"))
    assert "unique_together" in str(
        rules.retype_blockers(models.IntegerField(), {"unique_together": {("n", "m")}}, "n")
    )


def detect(old: Field, new: Field, options: dict[str, Any] | None = None) -> str:
    def state(field: Field) -> Any:
        return make_project_state(
            [
                ModelState(
                    "testapp",
                    "Meter",
                    [("id", models.AutoField(primary_key=True)), ("n", field)],
                    dict(options or {}),
                )
            ]
        )

    autodetector = GreenMigrationAutodetector(state(old), state(new), GreenQuestioner())
    return describe_changes(autodetector._detect_changes())


def test_bigint_is_expanded_then_replaced() -> None:
    described = detect(models.IntegerField(), models.BigIntegerField())
    assert "<AddField  model_name='meter', name='n_retyped'" in described
    assert "SyncRetypedColumn" in described
    assert described.index("SyncRetypedColumn") < described.index("ReplaceColumn")
    # ReplaceColumn drops the triggers in the swap's transaction: no separate stop.
    assert "StopSyncRenamedColumns" not in described
    assert described.index("ReplaceColumn") < described.index("SetNotNull")


def test_narrowing_is_refused_with_what_to_do() -> None:
    with pytest.raises(PhasingError) as raised:
        detect(models.CharField(max_length=20), models.CharField(max_length=10))
    message = str(raised.value)
    assert "Changing the type of testapp.meter.n: max_length 20 -> 10 is narrower" in message
    assert "n_new = models.CharField(..., null=True)" in message
    assert "--stock" in message


def test_indexed_bigint_change_is_refused() -> None:
    index = models.Index(fields=["n"], name="n_idx")
    with pytest.raises(PhasingError, match="Meta.indexes has n_idx, which uses it"):
        detect(models.IntegerField(), models.BigIntegerField(), {"indexes": [index]})


def test_primary_key_to_bigint_is_refused_with_default_auto_field_fix() -> None:
    def state(pk: Field) -> Any:
        return make_project_state([ModelState("testapp", "Meter", [("id", pk)], {})])

    autodetector = GreenMigrationAutodetector(
        state(models.AutoField(primary_key=True)),
        state(models.BigAutoField(primary_key=True)),
        GreenQuestioner(),
    )
    with pytest.raises(PhasingError, match="default_auto_field"):
        autodetector._detect_changes()


# A systematic set of columns around a retyped field: its db_column before
# and after, and another field of the model holding a column the replacement
# would naturally take.
COLUMNS = [
    None,
    "n",
    "amt",
    "AMT",
    "n_retyped",
    "amt_retyped",
    "order",
    "数据" * 10 + "数",
    "a" * 63,
]


def retype_changes(old_column: str | None, new_column: str | None, other: str | None) -> Any:
    """Return the from_state, to_state and operations of an int to bigint change of Meter.n."""

    def state(field: Field) -> Any:
        fields: list[tuple[str, Field]] = [("id", models.AutoField(primary_key=True)), ("n", field)]
        if other is not None:
            fields.append(("other", models.IntegerField(db_column=other)))
        return make_project_state([ModelState("testapp", "Meter", fields, {})])

    from_state = state(models.IntegerField(db_column=old_column))
    to_state = state(models.BigIntegerField(db_column=new_column))
    changes = GreenMigrationAutodetector(from_state, to_state, GreenQuestioner())._detect_changes()
    operations = [op for migration in changes["testapp"] for op in migration.operations]
    return from_state, to_state, operations


def model_columns(state: Any) -> set[str]:
    """Return the columns of Meter in state, in lower case (as MariaDB compares them)."""
    fields = state.apps.get_model("testapp", "Meter")._meta.local_concrete_fields
    return {str(field.column).lower() for field in fields}


@pytest.mark.parametrize(
    ("old_column", "new_column", "other"),
    [
        (old, new, other)
        for old in COLUMNS
        for new in COLUMNS[:3]
        for other in (None, "n_retyped", "amt_retyped")
        if other is None or other not in {old, new}  # else two fields share a column
        if (old or "n") == (new or "n") or (old or "n").lower() != (new or "n").lower()
    ],
)
def test_replacement_has_a_column_of_its_own(
    old_column: str | None, new_column: str | None, other: str | None
) -> None:
    """The replacement's column is new, fits 63 bytes, and becomes the field's column.

    It is never the column it replaces (the issue's data loss: the same
    db_column, dropped with the old field).
    """
    from_state, to_state, operations = retype_changes(old_column, new_column, other)
    [added] = [op for op in operations if isinstance(op, AddField)]
    added_column = _column(added.field, added.name).lower()
    final_column = (new_column or "n").lower()
    assert added_column not in model_columns(from_state)
    if final_column in model_columns(from_state):
        assert added_column not in model_columns(to_state)
    else:  # db_column changes too: the new release reads the replacement
        assert added_column == final_column
    assert len(added_column.encode()) <= 63
    # Applied in order, the operations end with the field of the new release.
    end = apply_operations(from_state, "testapp", operations)
    assert model_columns(end) == model_columns(to_state)
    autodetector = GreenMigrationAutodetector(end, to_state, GreenQuestioner())
    assert autodetector._detect_changes() == {}


def test_a_column_changing_only_in_case_is_refused() -> None:
    """MariaDB/MySQL and SQLite see one column where PostgreSQL sees two."""
    with pytest.raises(PhasingError, match=r"changes only in case \(AMT -> amt\)"):
        retype_changes("AMT", "amt", None)


def test_replacement_of_a_field_whose_db_column_changes_takes_the_new_column() -> None:
    _from_state, _to_state, operations = retype_changes("amt", "amount", None)
    [added] = [op for op in operations if isinstance(op, AddField)]
    assert added.field.db_column == "amount"
    [replace] = [op for op in operations if isinstance(op, ReplaceColumn)]
    assert "db_column" not in replace.deconstruct()[2]  # written as before


def test_natural_names_write_what_they_wrote_before() -> None:
    """Migrations of fields without db_column are unchanged (files already written)."""
    _from_state, _to_state, operations = retype_changes(None, None, None)
    [added] = [op for op in operations if isinstance(op, AddField)]
    assert (added.name, added.field.db_column) == ("n_retyped", None)
    [replace] = [op for op in operations if isinstance(op, ReplaceColumn)]
    assert replace.deconstruct()[2] == {
        "model_name": "meter",
        "old_name": "n",
        "new_name": "n_retyped",
    }


@pytest.mark.parametrize("column", ["amt", "数据" * 10 + "数", "a" * 64, None])
def test_replace_column_is_written_and_read_back(column: str | None, tmp_path: Path) -> None:
    operation = ReplaceColumn("meter", "n", "n_retyped", db_column=column)
    migration = Migration("0002_retype", "testapp")
    migration.operations = [operation]
    path = tmp_path / "0002_retype.py"
    path.write_text(MigrationWriter(migration).as_string(), encoding="utf-8")
    [read] = load_module(path).Migration.operations
    assert read.deconstruct() == operation.deconstruct()
    assert read.deconstruct()[2]["db_column"] == column


def _column(field: Field, name: str) -> str:
    clone = field.clone()
    clone.set_attributes_from_name(name)
    return str(clone.column)
