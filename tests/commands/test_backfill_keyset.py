"""Batched backfills walk the primary key by keyset, whatever its type and spread (backfill.py).

The number of UPDATE statements follows the number of rows: a table of
1,001 rows, one of them at id 2,000,000,000, takes eleven batches of 100,
not two million ranges. Each row is updated exactly once (every test table
counts the updates of each row in ``hits``), and the result is the one a
single plain ``UPDATE`` gives, on generated key sets and conditions
(hypothesis; ``GREEN_BACKFILL_EXAMPLES`` raises the number of examples).
"""

from __future__ import annotations

import math
import os
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import NotSupportedError, connection, models, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext, isolate_apps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from green_makemigrations import backfill
from green_makemigrations.backfill import update_in_batches

from .utils import select, table_of

TABLE = "green_keyset_row"
KINDS = ("integer", "uuid", "char")
EXAMPLES = int(os.environ.get("GREEN_BACKFILL_EXAMPLES", "20"))


def key_field(kind: str) -> models.Field[Any, Any]:
    """Return a primary key field of kind."""
    if kind == "integer":
        return models.BigIntegerField(primary_key=True)
    if kind == "uuid":
        return models.UUIDField(primary_key=True)
    return models.CharField(max_length=40, primary_key=True)


@pytest.fixture(params=KINDS)
def row_model(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[Any]:
    """An empty table keyed by an integer, a UUID or a text, with ``amount`` and ``hits``."""
    with isolate_apps("tests.testapp"):

        class Row(models.Model):
            key = key_field(request.param)
            amount = models.IntegerField(null=True)
            hits = models.IntegerField(default=0)

            class Meta:
                app_label = "testapp"
                db_table = TABLE

        with table_of(Row):
            yield Row


def kind_of(model: Any) -> str:
    """Return the kind of model's primary key."""
    field = model._meta.pk
    if isinstance(field, models.UUIDField):
        return "uuid"
    return "char" if isinstance(field, models.CharField) else "integer"


def spread_keys(kind: str, count: int, seed: int = 0) -> list[Any]:
    """Return count distinct keys of kind, spread over the whole range of the type."""
    rng = random.Random(seed)
    if kind == "integer":
        return rng.sample(range(-(2**40), 2**40), count)
    if kind == "uuid":
        # Versions 1 and 4: MariaDB's uuid type refuses other variants, and
        # stores version 1 with its time fields swapped (an order of its own).
        return [
            uuid.UUID(int=rng.getrandbits(128), version=1 + 3 * (number % 2))
            for number in range(count)
        ]
    # Mixed case, digits and punctuation: the database's collation orders them.
    return [f"{rng.choice('aBc-_')}{number}{rng.choice('xY.')}" for number in range(count)]


def fill(model: Any, keys: list[Any], values: list[int | None] | None = None) -> None:
    """Replace the table's rows by one row per key, hits 0."""
    model.objects.all().delete()
    values = values if values is not None else [None] * len(keys)
    model.objects.bulk_create(
        [model(key=key, amount=amount) for key, amount in zip(keys, values, strict=True)]
    )


def backfill_rows(
    model: Any,
    condition: str = "1 = 1",
    params: tuple[Any, ...] = (),
    batch_size: int = 100,
    limit: int = 20,
) -> tuple[int, int]:
    """Count each row's update in hits, batch_size keys at a time; return (changed, UPDATEs).

    Past limit UPDATE statements the backfill fails at once (a walk of the
    key range would otherwise run for hours).
    """
    sent = [0]

    def bounded(execute: Any, sql: str, *args: Any) -> Any:
        if sql.startswith("UPDATE"):
            sent[0] += 1
            assert sent[0] <= limit, f"more than {limit} UPDATE statements"
        return execute(sql, *args)

    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(bounded):
        with connection.schema_editor(atomic=False) as editor:
            changed = update_in_batches(
                editor,
                model,
                "hits = hits + 1, amount = COALESCE(amount, 0) + 1000",
                condition,
                params,
                batch_size=batch_size,
            )
    updates = [query for query in queries.captured_queries if query["sql"].startswith("UPDATE")]
    return changed, len(updates)


def hits(model: Any) -> list[int]:
    """Return the hits of every row."""
    return [row[0] for row in select(f"SELECT hits FROM {connection.ops.quote_name(TABLE)}")]


@pytest.mark.parametrize("row_model", ["integer"], indirect=True)
def test_sparse_integer_ids_take_as_many_batches_as_rows_need(row_model: Any) -> None:
    fill(row_model, [*range(1, 1001), 2_000_000_000])
    changed, updates = backfill_rows(row_model, batch_size=100, limit=math.ceil(1001 / 100) + 2)
    assert changed == 1001
    assert updates <= math.ceil(1001 / 100) + 2
    assert hits(row_model) == [1] * 1001


def test_every_row_once_in_batches_on_every_key_kind(row_model: Any) -> None:
    """Row counts around the batch size (4): empty, partial, k full batches and one more."""
    for rows in (0, 1, 3, 4, 5, 8, 9, 12):
        fill(row_model, spread_keys(kind_of(row_model), rows, seed=rows))
        changed, updates = backfill_rows(row_model, batch_size=4, limit=rows // 4 + 3)
        assert (rows, changed, updates) == (rows, rows, math.ceil(rows / 4))
        assert hits(row_model) == [1] * rows, rows


class Interruption(Exception):
    """Stands for a kill of the migration between two batches."""


def between_batches(monkeypatch: pytest.MonkeyPatch, action: Callable[[int], None]) -> None:
    """Run action(batches done so far) after each batch, where the backfill pauses."""
    done = [0]

    def pause(seconds: float) -> None:
        done[0] += 1
        action(done[0])

    monkeypatch.setattr(backfill.time, "sleep", pause)


@override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_NICE_RATIO": 1})
def test_a_killed_backfill_run_again_completes(
    row_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The condition (false once a row is done) makes the re-run skip the rows done."""
    fill(row_model, spread_keys(kind_of(row_model), 10))

    def kill_after_two(done: int) -> None:
        if done == 2:
            raise Interruption

    between_batches(monkeypatch, kill_after_two)
    with pytest.raises(Interruption):
        backfill_rows(row_model, "hits = 0", batch_size=3, limit=6)
    assert sorted(hits(row_model)) == [0] * 4 + [1] * 6  # two batches committed
    between_batches(monkeypatch, lambda done: None)
    assert backfill_rows(row_model, "hits = 0", batch_size=3, limit=6)[0] == 4
    assert hits(row_model) == [1] * 10
    assert backfill_rows(row_model, "hits = 0", batch_size=3, limit=6)[0] == 0
    assert hits(row_model) == [1] * 10


@override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_NICE_RATIO": 1})
def test_the_walk_ends_while_rows_keep_arriving(
    row_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows inserted after the walk's last key are its caller's; the walk ends all the same."""
    kind = kind_of(row_model)
    keys = spread_keys(kind, 30, seed=1)
    fill(row_model, keys)
    arrivals = [key for key in spread_keys(kind, 100, seed=2) if key not in keys]

    def insert_more(done: int) -> None:
        # Ten new rows after each of the first ten batches (of three rows). An
        # integer key comes after the last one, like an auto-increment's; other
        # keys land anywhere, some ahead of the walk.
        if kind == "integer":
            new = [max(keys) + done * 10 + offset for offset in range(10)]
        else:
            new = arrivals[(done - 1) * 10 : done * 10]
        row_model.objects.bulk_create([row_model(key=key) for key in new])

    between_batches(monkeypatch, insert_more)
    changed, updates = backfill_rows(row_model, "hits = 0", batch_size=3, limit=130 // 3 + 2)
    # Every row present at the start was updated exactly once.
    assert sorted(row_model.objects.filter(key__in=keys).values_list("hits", flat=True)) == [1] * 30
    if kind == "integer":
        assert (changed, updates) == (30, 10)  # nothing after the last key of the start
    else:
        assert 30 <= changed < 30 + len(arrivals)
        assert updates <= math.ceil(changed / 3) + 2


def test_a_composite_primary_key_is_refused_before_any_query(transactional_db: None) -> None:
    with isolate_apps("tests.testapp"):

        class Pair(models.Model):
            pk = models.CompositePrimaryKey("left", "right")
            left = models.IntegerField()
            right = models.IntegerField()
            amount = models.IntegerField(null=True)

            class Meta:
                app_label = "testapp"
                db_table = "green_keyset_pair"

        with CaptureQueriesContext(connection) as queries:
            with pytest.raises(NotSupportedError) as error:
                with connection.schema_editor(atomic=False) as editor:
                    update_in_batches(editor, Pair, "amount = 1", "amount IS NULL")
    message = str(error.value)
    assert "testapp.Pair (table green_keyset_pair)" in message
    assert "composite (CompositePrimaryKey)" in message
    assert "data migration" in message
    assert not [query for query in queries.captured_queries if "UPDATE" in query["sql"]]


# -- generated: keyset batches against one plain UPDATE --------------------------------

# Keys unique under every backend's collation (MariaDB's utf8mb4_unicode_ci ignores
# case and trailing spaces): letters of one case, digits and punctuation.
CHAR_KEYS = st.text(alphabet="abcxyz0129-_.~ ", min_size=1, max_size=12).map(str.rstrip)
KEYS: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.integers(min_value=-(2**62), max_value=2**62),
    "uuid": st.uuids(version=1) | st.uuids(version=4),
    "char": CHAR_KEYS.filter(bool),
}
CONDITIONS = (
    ("1 = 1", ()),
    ("amount IS NULL", ()),
    ("amount < %s", (0,)),
    ("amount IS NULL OR amount >= %s", (3,)),
    ("hits = %s AND amount <> %s", (0, 1)),
)


def snapshot() -> list[tuple[Any, ...]]:
    """Return every row, by key as the database orders them."""
    quote = connection.ops.quote_name
    return select(f"SELECT {quote('key')}, amount, hits FROM {quote(TABLE)} ORDER BY 1")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_batches_give_the_plain_updates_result(row_model: Any, data: st.DataObject) -> None:
    keys = data.draw(st.lists(KEYS[kind_of(row_model)], max_size=25, unique=True), "keys")
    values = data.draw(
        st.lists(st.none() | st.integers(-5, 5), min_size=len(keys), max_size=len(keys)),
        "values",
    )
    condition, params = data.draw(st.sampled_from(CONDITIONS), "condition")
    batch_size = data.draw(st.integers(1, 7), "batch_size")
    fill(row_model, keys, values)

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {connection.ops.quote_name(TABLE)} SET hits = hits + 1, "
                f"amount = COALESCE(amount, 0) + 1000 WHERE {condition}",
                params,
            )
            expected_changed = cursor.rowcount
        expected = snapshot()
        transaction.set_rollback(True)

    limit = math.ceil(len(keys) / batch_size) + 2
    changed, updates = backfill_rows(row_model, condition, params, batch_size, limit)
    assert snapshot() == expected
    assert changed == expected_changed
    assert updates <= math.ceil(len(keys) / batch_size) + 2
