"""Type changes: which run in place, which are expanded, which are refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.db.migrations.state import ModelState

from green_makemigrations import rules
from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.exceptions import PhasingError
from green_makemigrations.questioner import GreenQuestioner
from green_makemigrations.rules import Retype

from .helpers import describe_changes, make_project_state

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
