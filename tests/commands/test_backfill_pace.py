"""Batched backfills pause after each batch, in proportion to its duration (backfill.py).

The pause is what the backfill asks of ``time.sleep``; the clock is
Python's, the table and its batches real. Whether the pause shortens the
application's waits is measured in benchmarks/ (bench_locks.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, models
from django.test import override_settings
from django.test.utils import isolate_apps

from green_makemigrations import backfill, conf
from green_makemigrations.backfill import update_in_batches
from green_makemigrations.conf import setting_errors
from green_makemigrations.exceptions import StageConfigurationError

from .utils import table_of


class Clock:
    """time.monotonic and time.sleep for the backfill: each batch takes 0.25 s.

    The backfill reads the clock before and after each batch, and nothing else.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        self.now += 0.25
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(backfill.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(backfill.time, "sleep", fake.sleep)
    return fake


@pytest.fixture(params=["integer", "text"])
def tag_model(
    request: pytest.FixtureRequest, transactional_db: None
) -> Iterator[type[models.Model]]:
    """Five tags without a label, under an integer or a text primary key."""
    with isolate_apps("tests.testapp"):
        key = (
            models.AutoField(primary_key=True)
            if request.param == "integer"
            else models.CharField(max_length=5, primary_key=True)
        )

        class Tag(models.Model):
            id = key
            label = models.CharField(max_length=20, null=True)

            class Meta:
                app_label = "testapp"
                db_table = "green_pace_tag"

        with table_of(Tag):
            Tag.objects.bulk_create(
                [
                    Tag(id=number if request.param == "integer" else f"t{number}")
                    for number in range(1, 6)
                ]
            )
            yield Tag


def label_all(model: type[models.Model]) -> int:
    """Label every tag, two a batch; return the rows changed."""
    with connection.schema_editor(atomic=False) as editor:
        return update_in_batches(editor, model, "label = 'x'", "label IS NULL", batch_size=2)


@override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_NICE_RATIO": 1})
def test_each_batch_is_followed_by_a_pause_as_long(
    tag_model: type[models.Model], clock: Clock
) -> None:
    assert label_all(tag_model) == 5
    # Three batches of two (the last finds one row, or none after a full one).
    assert clock.sleeps[:3] == [0.25, 0.25, 0.25]
    assert set(clock.sleeps) == {0.25}
    assert list(tag_model.objects.values_list("label", flat=True)) == ["x"] * 5  # type: ignore[attr-defined]


@override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_NICE_RATIO": 3})
def test_the_ratio_scales_the_pause(tag_model: type[models.Model], clock: Clock) -> None:
    label_all(tag_model)
    assert clock.sleeps and set(clock.sleeps) == {0.75}


@pytest.mark.parametrize("setting", [{}, {"BACKFILL_NICE_RATIO": 0}])
def test_by_default_and_at_zero_it_never_sleeps(
    tag_model: type[models.Model], clock: Clock, setting: dict[str, float]
) -> None:
    with override_settings(GREEN_MAKEMIGRATIONS=setting):
        assert conf.backfill_nice_ratio() == 0.0
        assert label_all(tag_model) == 5
    assert clock.sleeps == []


@pytest.mark.parametrize("value", [-1, 101, "1", True, None])
def test_setting_refuses_what_is_not_a_ratio(value: object) -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_NICE_RATIO": value}):
        with pytest.raises(StageConfigurationError) as error:
            conf.backfill_nice_ratio()
        message = str(error.value)
        assert f"GREEN_MAKEMIGRATIONS['BACKFILL_NICE_RATIO'] is {value!r}" in message
        assert setting_errors() == [message]
