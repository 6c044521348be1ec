"""Operations that run outside a transaction get migrations of their own.

CREATE INDEX CONCURRENTLY, NOT VALID constraints validated later, batched
copies: such an operation cannot run in a transaction, but it must not take
the rest of its stage out of one. The autodetector puts those operations in
non-atomic migrations of their own, after the atomic migration of the same
stage unless an atomic operation must follow one of them (then the stage is
cut there), and rewires the dependencies of other apps on a split migration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.operations.base import Operation
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ModelState, ProjectState
from hypothesis import given, settings
from hypothesis import strategies as st

from green_makemigrations.autodetector import (
    Changes,
    GreenMigrationAutodetector,
    _transaction_chunks,
)
from green_makemigrations.constants import Stage
from green_makemigrations.operations import (
    AddIndexConcurrently,
    AlterFieldUniqueConcurrently,
    runs_outside_transaction,
)
from green_makemigrations.questioner import GreenQuestioner

from .helpers import apply_operations, check_transaction_split, describe_changes, make_project_state

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY
FIELDS = 65


def detect(before: list[ModelState], after: list[ModelState]) -> Changes:
    """Return the autodetector's changes, as in Django's get_changes()."""
    return GreenMigrationAutodetector(
        make_project_state(before), make_project_state(after), GreenQuestioner()
    )._detect_changes()


def model(
    name: str,
    fields: dict[str, models.Field[Any, Any]],
    indexes: tuple[str, ...] | list[str] = (),
    app_label: str = "testapp",
    unique: tuple[str, ...] | list[str] = (),
) -> ModelState:
    """Return a model state with fields, an index on each of indexes, a constraint per unique."""
    return ModelState(
        app_label,
        name,
        [("id", models.AutoField(primary_key=True)), *fields.items()],
        options={
            "indexes": [models.Index(fields=[f], name=f"{name.lower()}_{f}_idx") for f in indexes],
            "constraints": [
                models.UniqueConstraint(fields=[f], name=f"{name.lower()}_{f}_uniq") for f in unique
            ],
        },
    )


def numbers(help_text: str = "") -> dict[str, models.Field[Any, Any]]:
    return {f"f{i}": models.IntegerField(null=True, help_text=help_text) for i in range(FIELDS)}


def kinds(changes: Changes, app_label: str = "testapp") -> list[tuple[Stage, bool, list[str]]]:
    """Return (stage, atomic, operation class names) of each of app_label's migrations."""
    return [
        (m.stage, m.atomic, [type(op).__name__ for op in m.operations])  # type: ignore[attr-defined]
        for m in changes[app_label]
    ]


# -- the issue's case, and where the cut goes ------------------------------------


@pytest.mark.parametrize("indexed", ["book", "shelf"])
def test_one_concurrent_index_leaves_the_other_changes_atomic(indexed: str) -> None:
    """65 AlterFields and one index: the AlterFields stay in one transaction."""
    before = [model("Book", numbers()), model("Shelf", {"name": models.TextField()})]
    after = [
        model("Book", numbers("changed"), ["f0"] if indexed == "book" else []),
        model("Shelf", {"name": models.TextField()}, ["name"] if indexed == "shelf" else []),
    ]
    changes = detect(before, after)
    check_transaction_split(changes)
    assert kinds(changes) == [
        (PRE, True, ["AlterField"] * FIELDS),
        (PRE, False, ["AddIndexConcurrently"]),
    ], describe_changes(changes)
    assert changes["testapp"][1].dependencies == [("testapp", changes["testapp"][0].name)]


@pytest.mark.parametrize(
    ("dropped_on", "expected"),
    [
        # Django drops the index first. On the model whose fields change, it
        # stays first (the stage is cut after it); elsewhere it waits for
        # the atomic migration.
        (
            "book",
            [(PRE, False, ["RemoveIndexConcurrently"]), (PRE, True, ["AlterField"] * FIELDS)],
        ),
        (
            "shelf",
            [(PRE, True, ["AlterField"] * FIELDS), (PRE, False, ["RemoveIndexConcurrently"])],
        ),
    ],
)
def test_a_dropped_index_moves_after_the_atomic_changes_it_commutes_with(
    dropped_on: str, expected: list[tuple[Stage, bool, list[str]]]
) -> None:
    book_index, shelf_index = (["f0"], []) if dropped_on == "book" else ([], ["name"])
    before = [
        model("Book", numbers(), book_index),
        model("Shelf", {"name": models.TextField()}, shelf_index),
    ]
    after = [model("Book", numbers("changed")), model("Shelf", {"name": models.TextField()})]
    changes = detect(before, after)
    check_transaction_split(changes)
    assert kinds(changes) == expected, describe_changes(changes)


def test_an_index_on_a_field_added_in_the_stage_follows_its_migration() -> None:
    before = [model("Book", {"title": models.TextField()})]
    fields = {"title": models.TextField(), "isbn": models.TextField(null=True)}
    after = [model("Book", fields, ["isbn"])]
    changes = detect(before, after)
    check_transaction_split(changes)
    assert kinds(changes) == [
        (PRE, True, ["AddField"]),
        (PRE, False, ["AddIndexConcurrently"]),
    ], describe_changes(changes)


def _unique_code() -> Operation:
    return AlterFieldUniqueConcurrently("author", "code", models.IntegerField(unique=True))


def _index_code() -> Operation:
    return AddIndexConcurrently("author", models.Index(fields=["code"], name="author_code_idx"))


def _fk(to_field: str | None) -> Operation:
    field = models.ForeignKey("testapp.author", models.CASCADE, to_field=to_field, null=True)
    return operations.AddField("book", "author", field)


def _alter(model_name: str, name: str) -> Operation:
    return operations.AlterField(model_name, name, models.IntegerField(null=True))


# (operations in Django's order, the chunks expected: "A" atomic, "O" outside, by position)
CHUNKS: list[tuple[str, list[Callable[[], Operation]], list[tuple[str, list[int]]]]] = [
    (
        "different fields commute",
        [_unique_code, lambda: _alter("author", "name")],
        [("A", [1]), ("O", [0])],
    ),
    (
        "same field keeps its order",
        [_unique_code, lambda: _alter("author", "code")],
        [("O", [0]), ("A", [1])],
    ),
    (
        "an index spans the model",
        [_index_code, lambda: _alter("author", "name")],
        [("O", [0]), ("A", [1])],
    ),
    (
        "other models commute",
        [_index_code, lambda: _alter("book", "title")],
        [("A", [1]), ("O", [0])],
    ),
    (
        "a relation may target a unique field",
        [_unique_code, lambda: _fk("code")],
        [("O", [0]), ("A", [1])],
    ),
    (
        "an index on the relation's model keeps its order",
        [
            lambda: AddIndexConcurrently("book", models.Index(fields=["title"], name="t")),
            lambda: _fk(None),
        ],
        [("O", [0]), ("A", [1])],
    ),
    (
        "an index or constraint of the target may make it unique: kept in order",
        [_index_code, lambda: _fk(None)],
        [("O", [0]), ("A", [1])],
    ),
    (
        "a relation to a field made unique keeps its order",
        [_unique_code, lambda: _fk(None)],
        [("O", [0]), ("A", [1])],
    ),
    (
        "RunSQL touches everything",
        [_index_code, lambda: operations.RunSQL("SELECT 1")],
        [("O", [0]), ("A", [1])],
    ),
    (
        "outside runs join",
        [_index_code, lambda: _alter("book", "title"), _unique_code],
        [("A", [1]), ("O", [0, 2])],
    ),
    ("only atomic", [lambda: _alter("book", "title")], [("A", [0])]),
    ("only outside", [_index_code, _unique_code], [("O", [0, 1])]),
]


@pytest.mark.parametrize(
    ("operations_made", "expected"),
    [pytest.param(made, expected, id=name) for name, made, expected in CHUNKS],
)
def test_chunks(
    operations_made: list[Callable[[], Operation]], expected: list[tuple[str, list[int]]]
) -> None:
    """An outside operation moves after the atomic ones unless one must follow it."""
    ops = [make() for make in operations_made]
    chunks = _transaction_chunks(ops, "testapp")
    assert [
        ("O" if outside else "A", [ops.index(op) for op in chunk]) for chunk, outside in chunks
    ] == expected


def test_post_deploy_stage_is_split_too() -> None:
    """A removal's drop (atomic) and a field made NOT NULL (outside a transaction)."""
    before = [model("Book", {"a": models.IntegerField(null=True), "b": models.IntegerField()})]
    after = [model("Book", {"a": models.IntegerField()})]
    changes = detect(before, after)
    check_transaction_split(changes)
    assert kinds(changes) == [
        (PRE, True, ["AlterField"]),
        (POST, True, ["RemoveField"]),
        (POST, False, ["SetNotNull"]),
    ], describe_changes(changes)


def test_another_apps_dependency_on_a_split_migration_points_to_its_last_part() -> None:
    before = [model("Book", numbers()), model("Note", {}, app_label="other")]
    shelf = models.ForeignKey("testapp.shelf", models.CASCADE, null=True)
    after = [
        model("Book", numbers("changed"), ["f0"]),
        model("Shelf", {"name": models.TextField()}),
        model("Note", {"shelf": shelf}, app_label="other"),
    ]
    changes = detect(before, after)
    check_transaction_split(changes)
    names = [m.name for m in changes["testapp"]]
    assert len(names) == 2, describe_changes(changes)
    depends = {tuple(d) for m in changes["other"] for d in m.dependencies if d[0] == "testapp"}
    assert depends == {("testapp", names[-1])}, describe_changes(changes)
    assert matches(changes, before, after)


# -- generated changes -------------------------------------------------------------


def apply_in_order(changes: Changes, state: ProjectState) -> ProjectState:
    """Return state after the new migrations, each after the new ones it depends on."""
    pending = {(app, m.name): m for app, ms in changes.items() for m in ms}
    done: set[tuple[str, str]] = set()
    while pending:
        ready = [
            key
            for key, migration in pending.items()
            if all(tuple(d) in done or tuple(d) not in pending for d in migration.dependencies)
        ]
        assert ready, f"a dependency cycle: {sorted(pending)}"
        for key in sorted(ready):
            state = apply_operations(state, key[0], pending.pop(key).operations)
            done.add(key)
            for model_state in state.models.values():
                state.apps.get_model(model_state.app_label, model_state.name)
    return state


def matches(changes: Changes, before: list[ModelState], after: list[ModelState]) -> bool:
    """Return whether the migrations turn before's state into after's (Django finds nothing)."""
    state = apply_in_order(changes, make_project_state(before))
    left = MigrationAutodetector(
        state, make_project_state(after), MigrationQuestioner()
    )._detect_changes()
    return not left


FIELD_NAMES = ["a", "b", "c", "d"]


@st.composite
def releases(draw: Callable[..., Any]) -> tuple[list[ModelState], list[ModelState]]:
    """Return two releases of two models: fields changed, added, removed; indexes moved."""
    before, after = [], []
    for name in ("Book", "Shelf"):
        old = {f: models.IntegerField(null=True) for f in FIELD_NAMES}
        new: dict[str, models.Field[Any, Any]] = {}
        for field in FIELD_NAMES:
            fate = draw(st.sampled_from(["keep", "alter", "remove", "not_null"]))
            if fate == "keep":
                new[field] = models.IntegerField(null=True)
            elif fate == "alter":
                new[field] = models.IntegerField(null=True, help_text="changed")
            elif fate == "not_null":
                new[field] = models.IntegerField()
        for index in range(draw(st.integers(0, 2))):
            new[f"new{index}"] = models.IntegerField(null=True)
        old_indexes = draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, max_size=2))
        new_indexes = draw(
            st.lists(st.sampled_from(sorted(new) or ["id"]), unique=True, max_size=2)
        )
        unique = draw(st.lists(st.sampled_from(sorted(new) or ["id"]), unique=True, max_size=1))
        before.append(model(name, old, old_indexes))
        after.append(model(name, new, new_indexes, unique=unique))
    if draw(st.booleans()):
        # Another app points at a model, new or not, of this one.
        target = draw(st.sampled_from(["testapp.book", "testapp.rack"]))
        if target == "testapp.rack":
            after.append(model("Rack", {"name": models.TextField()}))
        fields = {"target": models.ForeignKey(target, models.CASCADE, null=True)}
        before.append(model("Note", {}, app_label="other"))
        after.append(model("Note", fields, app_label="other"))
    return before, after


@settings(max_examples=150, deadline=None)
@given(releases())
def test_generated_changes_split_only_what_runs_outside_a_transaction(
    states: tuple[list[ModelState], list[ModelState]],
) -> None:
    """Every migration is atomic or only outside; stages in order; the state comes out right.

    And the operations of each stage are those of one migration per stage
    (as before the split), reordered only by moving an operation that runs
    outside a transaction later.
    """
    before, after = states
    changes = detect(before, after)
    check_transaction_split(changes)
    described = describe_changes(changes)
    for migrations in changes.values():
        stages = [m.stage for m in migrations]  # type: ignore[attr-defined]
        assert stages == sorted(stages, key=[PRE, POST].index), described
    assert matches(changes, before, after), described

    unsplit = _detect_unsplit(before, after)
    for app_label, migrations in changes.items():
        for stage in Stage:
            split_ops = _of_stage(migrations, stage)
            original = _of_stage(unsplit.get(app_label, []), stage)
            assert sorted(split_ops) == sorted(original), described
            # Without the operations run outside a transaction, the order is Django's.
            outside = {
                repr(op) for m in migrations for op in m.operations if runs_outside_transaction(op)
            }
            assert [r for r in split_ops if r not in outside] == [
                r for r in original if r not in outside
            ], described
            # Such an operation only ever moves later.
            for text in outside & set(split_ops):
                earlier = set(split_ops[: split_ops.index(text)])
                assert earlier >= set(original[: original.index(text)]), described


def _of_stage(migrations: list[Migration], stage: Stage) -> list[str]:
    """Return the reprs of the operations of the migrations of stage, in order."""
    return [
        repr(op)
        for m in migrations
        if m.stage is stage  # type: ignore[attr-defined]
        for op in m.operations
    ]


def _detect_unsplit(before: list[ModelState], after: list[ModelState]) -> Changes:
    """Return the changes without the split: one migration per stage build, as before."""
    autodetector = GreenMigrationAutodetector(
        make_project_state(before), make_project_state(after), GreenQuestioner()
    )
    autodetector._isolate_outside_transaction = lambda: None  # type: ignore[method-assign]
    return autodetector._detect_changes()
