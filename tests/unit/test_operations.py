"""AddIndexConcurrently, RemoveIndexConcurrently, AddCheckConstraintNotValid without a database.

Their signatures and deconstruct() (what the migration writer writes), a round
trip through a written migration file, describe(), and where the autodetector
uses them instead of Django's AddIndex / RemoveIndex / AddConstraint. What
they do to a database is tested in tests/commands/test_online_ddl.py.
"""

from __future__ import annotations

import inspect
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState, ProjectState
from django.db.models.functions import Lower

from green_makemigrations import operations as green_operations
from green_makemigrations.autodetector import Changes, GreenMigrationAutodetector
from green_makemigrations.constants import Stage
from green_makemigrations.operations import (
    AddCheckConstraintNotValid,
    AddFieldIndexConcurrently,
    AddIndexConcurrently,
    AddUniqueConstraintConcurrently,
    AlterFieldIndexConcurrently,
    AlterFieldUniqueConcurrently,
    AlterUniqueTogetherConcurrently,
    RemoveIndexConcurrently,
)
from green_makemigrations.questioner import GreenQuestioner
from green_makemigrations.writer import StagedMigrationWriter

from .helpers import describe_changes, load_module, make_graph, make_migration, make_project_state

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY
GREEN_OPERATIONS = (AddIndexConcurrently, RemoveIndexConcurrently, AddCheckConstraintNotValid)


def title_index() -> models.Index:
    return models.Index(fields=["title"], name="book_title_idx")


def pages_check() -> models.CheckConstraint:
    return models.CheckConstraint(condition=models.Q(pages__gte=0), name="book_pages_gte_0")


def book(
    indexes: list[models.Index] | None = None,
    constraints: list[models.BaseConstraint] | None = None,
    *extra: tuple[str, models.Field[Any, Any]],
) -> ModelState:
    return ModelState(
        "testapp",
        "Book",
        [
            ("id", models.AutoField(primary_key=True)),
            ("title", models.CharField(max_length=200)),
            ("pages", models.IntegerField(default=0)),
            *extra,
        ],
        options={"indexes": indexes or [], "constraints": constraints or []},
    )


def shelf() -> ModelState:
    """A model that exists only in the new release, with an index and a check."""
    return ModelState(
        "testapp",
        "Shelf",
        [("id", models.AutoField(primary_key=True)), ("name", models.CharField(max_length=50))],
        options={
            "indexes": [models.Index(fields=["name"], name="shelf_name_idx")],
            "constraints": [
                models.CheckConstraint(condition=~models.Q(name=""), name="shelf_name_set")
            ],
        },
    )


def detect(before: list[ModelState], after: list[ModelState]) -> Changes:
    """Return the autodetector's changes, as in Django's get_changes()."""
    return GreenMigrationAutodetector(
        make_project_state(before), make_project_state(after), GreenQuestioner()
    )._detect_changes()


def only_migration(changes: Changes) -> Migration:
    migrations = changes.get("testapp", [])
    assert len(migrations) == 1, describe_changes(changes)
    return migrations[0]


def op_types(migration: Migration) -> list[type[Operation]]:
    return [type(operation) for operation in migration.operations]


# -- signatures and deconstruct() ----------------------------------------------


@pytest.mark.parametrize(
    ("operation_class", "parameters"),
    [
        (AddIndexConcurrently, ["self", "model_name", "index"]),
        (RemoveIndexConcurrently, ["self", "model_name", "name"]),
        (AddCheckConstraintNotValid, ["self", "model_name", "constraint"]),
    ],
)
def test_init_signature_is_explicit(
    operation_class: type[Operation], parameters: list[str]
) -> None:
    """The migration writer maps deconstruct()'s kwargs onto __init__'s parameters."""
    signature = inspect.signature(operation_class.__init__)
    assert list(signature.parameters) == parameters
    kinds = {parameter.kind for parameter in signature.parameters.values()}
    assert kinds == {inspect.Parameter.POSITIONAL_OR_KEYWORD}


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            AddIndexConcurrently("book", title_index()),
            ("AddIndexConcurrently", [], {"model_name": "book", "index": title_index()}),
        ),
        (
            RemoveIndexConcurrently("book", "book_title_idx"),
            ("RemoveIndexConcurrently", [], {"model_name": "book", "name": "book_title_idx"}),
        ),
        (
            AddCheckConstraintNotValid("book", pages_check()),
            (
                "AddCheckConstraintNotValid",
                [],
                {"model_name": "book", "constraint": pages_check()},
            ),
        ),
    ],
)
def test_deconstruct(operation: Operation, expected: tuple[str, list[Any], dict[str, Any]]) -> None:
    name, args, kwargs = operation.deconstruct()
    assert (name, list(args), kwargs) == expected
    # The class rebuilt from its deconstruction is equal, and still ours.
    rebuilt = type(operation)(*args, **kwargs)
    assert rebuilt.deconstruct() == operation.deconstruct()


@pytest.mark.parametrize("operation_class", GREEN_OPERATIONS)
def test_operations_are_django_subclasses_run_outside_transactions(
    operation_class: type[Operation],
) -> None:
    """Django's optimizer and state code treat them as the operation they replace.

    They say they need a non-atomic migration with outside_transaction, not
    with Django's ``atomic`` (which is False on every operation and means
    "force a transaction").
    """
    base = {
        AddIndexConcurrently: operations.AddIndex,
        RemoveIndexConcurrently: operations.RemoveIndex,
        AddCheckConstraintNotValid: operations.AddConstraint,
    }[operation_class]
    assert issubclass(operation_class, base)
    assert operation_class.reversible is True
    assert green_operations.runs_outside_transaction(operation_class)
    assert not green_operations.runs_outside_transaction(base)


def test_describe() -> None:
    assert (
        AddIndexConcurrently("book", title_index()).describe()
        == "Create index book_title_idx on book without blocking writes"
    )
    assert (
        RemoveIndexConcurrently("book", "book_title_idx").describe()
        == "Remove index book_title_idx from book without blocking writes"
    )
    assert (
        AddCheckConstraintNotValid("book", pages_check()).describe()
        == "Create constraint book_pages_gte_0 on model book, validated without blocking writes"
    )


def test_state_changes_are_django_s() -> None:
    """state_forwards is inherited: the project state is what Django's operations give."""
    state = make_project_state([book(indexes=[title_index()])])
    ours = state.clone()
    theirs = state.clone()
    for operation in (
        RemoveIndexConcurrently("book", "book_title_idx"),
        AddIndexConcurrently("book", models.Index(fields=["pages"], name="book_pages_idx")),
        AddCheckConstraintNotValid("book", pages_check()),
    ):
        operation.state_forwards("testapp", ours)
    for stock in (
        operations.RemoveIndex("book", "book_title_idx"),
        operations.AddIndex("book", models.Index(fields=["pages"], name="book_pages_idx")),
        operations.AddConstraint("book", pages_check()),
    ):
        stock.state_forwards("testapp", theirs)
    assert ours.models["testapp", "book"].options == theirs.models["testapp", "book"].options
    assert ours.models["testapp", "book"].options["indexes"] == [
        models.Index(fields=["pages"], name="book_pages_idx")
    ]


# -- round trip through a written migration -------------------------------------


def test_generated_migration_round_trip(migrations_package: Path) -> None:
    """makemigrations' path: autodetector, StagedMigrationWriter, file, import."""
    old_index = models.Index(fields=["pages"], name="book_pages_idx")
    initial = make_migration(
        "testapp",
        "0001_initial",
        [
            operations.CreateModel(
                "Book",
                [
                    ("id", models.AutoField(primary_key=True)),
                    ("title", models.CharField(max_length=200)),
                    ("pages", models.IntegerField(default=0)),
                ],
                options={"indexes": [old_index]},
            )
        ],
        stage=PRE,
    )
    graph = make_graph([initial])
    after = make_project_state([book(indexes=[title_index()], constraints=[pages_check()])])
    changes = GreenMigrationAutodetector(graph.make_state(), after, GreenQuestioner()).changes(
        graph=graph
    )
    migration = only_migration(changes)
    assert migration.stage is PRE, describe_changes(changes)
    assert migration.atomic is False
    assert sorted(type(op).__name__ for op in migration.operations) == sorted(
        cls.__name__ for cls in GREEN_OPERATIONS
    ), describe_changes(changes)

    text = StagedMigrationWriter(migration, include_header=False).as_string()
    path = migrations_package / f"{migration.name}.py"
    path.write_text(text)
    assert "import green_makemigrations.operations\n" in text
    for cls in GREEN_OPERATIONS:
        assert f"green_makemigrations.operations.{cls.__name__}(" in text
    assert "    stage = Stage.PRE_DEPLOY\n" in text
    assert "    atomic = False\n" in text
    # The comment says why, naming the operations.
    assert "    # Not atomic: RemoveIndexConcurrently, AddIndexConcurrently,\n" in text

    loaded = load_module(path).Migration
    assert loaded.atomic is False
    assert loaded.stage is PRE
    assert [type(op) for op in loaded.operations] == op_types(migration)
    assert [op.deconstruct() for op in loaded.operations] == [
        op.deconstruct() for op in migration.operations
    ]
    # The rebuilt operations change the state as the generated ones do.
    state: ProjectState = graph.make_state()
    for operation in loaded.operations:
        operation.state_forwards("testapp", state)
    assert state.models["testapp", "book"].options["indexes"] == [title_index()]
    assert state.models["testapp", "book"].options["constraints"] == [pages_check()]


# -- where the autodetector uses them -------------------------------------------


def test_index_added_to_existing_model_is_built_concurrently() -> None:
    migration = only_migration(detect([book()], [book(indexes=[title_index()])]))
    assert op_types(migration) == [AddIndexConcurrently]
    assert migration.operations[0].index == title_index()
    assert migration.operations[0].model_name == "book"
    assert migration.stage is PRE
    assert migration.atomic is False


def test_check_constraint_added_to_existing_model_is_validated_separately() -> None:
    migration = only_migration(detect([book()], [book(constraints=[pages_check()])]))
    assert op_types(migration) == [AddCheckConstraintNotValid]
    assert migration.operations[0].constraint == pages_check()
    assert migration.stage is PRE
    assert migration.atomic is False


def test_removed_index_is_dropped_concurrently() -> None:
    migration = only_migration(detect([book(indexes=[title_index()])], [book()]))
    assert op_types(migration) == [RemoveIndexConcurrently]
    assert migration.operations[0].name == "book_title_idx"
    assert migration.stage is PRE
    assert migration.atomic is False


def test_changed_index_is_dropped_and_built_concurrently() -> None:
    before = book(indexes=[models.Index(fields=["title", "pages"], name="book_idx")])
    after = book(indexes=[models.Index(fields=["pages", "title"], name="book_idx2")])
    migration = only_migration(detect([before], [after]))
    assert op_types(migration) == [RemoveIndexConcurrently, AddIndexConcurrently]
    assert migration.atomic is False


def test_index_on_added_field_comes_after_the_field() -> None:
    after = book(
        [models.Index(fields=["isbn"], name="book_isbn_idx")],
        None,
        ("isbn", models.CharField(max_length=13, null=True)),
    )
    changes = detect([book()], [after])
    add, index = changes["testapp"]
    assert op_types(add) == [operations.AddField], describe_changes(changes)
    assert add.atomic is True
    assert op_types(index) == [AddIndexConcurrently]
    assert index.atomic is False
    assert index.dependencies == [("testapp", add.name)]
    assert add.stage is index.stage is PRE  # type: ignore[attr-defined]


def test_plain_unique_constraint_gets_a_concurrent_index() -> None:
    unique = models.UniqueConstraint(fields=["title"], name="book_title_unique")
    migration = only_migration(detect([book()], [book(constraints=[unique])]))
    assert op_types(migration) == [AddUniqueConstraintConcurrently]
    assert migration.operations[0].constraint == unique
    assert migration.atomic is False


def test_conditional_unique_constraint_gets_a_concurrent_index() -> None:
    unique = models.UniqueConstraint(
        fields=["title"], condition=models.Q(pages__gt=0), name="book_title_unique"
    )
    migration = only_migration(detect([book()], [book(constraints=[unique])]))
    assert op_types(migration) == [AddUniqueConstraintConcurrently]
    assert migration.operations[0].constraint == unique
    assert migration.atomic is False


def test_field_made_unique_gets_a_concurrent_index() -> None:
    after = book()
    after.fields["title"] = models.CharField(max_length=200, unique=True)
    migration = only_migration(detect([book()], [after]))
    assert op_types(migration) == [AlterFieldUniqueConcurrently]
    assert migration.operations[0].field.unique
    assert migration.stage is PRE
    assert migration.atomic is False


def test_field_made_unique_and_not_null_stays_set_not_null() -> None:
    before = book(None, None, ("isbn", models.CharField(max_length=13, null=True)))
    after = book(None, None, ("isbn", models.CharField(max_length=13, default="", unique=True)))
    changes = detect([before], [after])
    assert [type(op).__name__ for m in changes["testapp"] for op in m.operations] == [
        "SetNotNull"
    ], describe_changes(changes)


def test_unique_together_added_gets_concurrent_indexes() -> None:
    after = book()
    after.options["unique_together"] = {("title", "pages")}
    migration = only_migration(detect([book()], [after]))
    assert op_types(migration) == [AlterUniqueTogetherConcurrently]
    assert migration.atomic is False


def test_unique_together_of_a_new_model_stays_with_the_table() -> None:
    new = shelf()
    new.options["unique_together"] = {("name",)}
    migration = only_migration(detect([book()], [book(), new]))
    assert not any(isinstance(op, AlterUniqueTogetherConcurrently) for op in migration.operations)
    assert migration.atomic is True


def test_unique_and_check_constraints_together() -> None:
    unique = models.UniqueConstraint(fields=["title"], name="book_title_unique")
    migration = only_migration(detect([book()], [book(constraints=[unique, pages_check()])]))
    by_name = {op.constraint.name: type(op) for op in migration.operations}
    assert by_name == {
        "book_title_unique": AddUniqueConstraintConcurrently,
        "book_pages_gte_0": AddCheckConstraintNotValid,
    }
    assert migration.atomic is False


def test_add_unique_constraint_concurrently_round_trips() -> None:
    operation = AddUniqueConstraintConcurrently(
        "book", models.UniqueConstraint(fields=["title"], name="book_title_unique")
    )
    name, args, kwargs = operation.deconstruct()
    assert (name, args) == ("AddUniqueConstraintConcurrently", [])
    rebuilt = AddUniqueConstraintConcurrently(**kwargs)
    assert rebuilt.deconstruct() == operation.deconstruct()
    assert rebuilt.describe() == (
        "Create constraint book_title_unique on model book, its index built without blocking writes"
    )


def test_new_model_keeps_django_s_operations() -> None:
    """Indexes and checks of a table created in the same run are built with it."""
    migration = only_migration(detect([book()], [book(), shelf()]))
    assert not any(isinstance(op, GREEN_OPERATIONS) for op in migration.operations)
    # Django puts them in CreateModel's options (its optimizer folds AddIndex
    # and AddConstraint into the CreateModel), or leaves them as AddIndex.
    created = [op for op in migration.operations if isinstance(op, operations.CreateModel)]
    assert [op.name for op in created] == ["Shelf"]
    indexes = [
        *created[0].options.get("indexes", []),
        *(op.index for op in migration.operations if type(op) is operations.AddIndex),
    ]
    assert [index.name for index in indexes] == ["shelf_name_idx"]
    assert migration.stage is PRE


def test_new_model_migration_stays_atomic() -> None:
    migration = only_migration(detect([book()], [book(), shelf()]))
    assert migration.atomic is True


def test_migration_without_concurrent_operations_stays_atomic() -> None:
    migration = only_migration(
        detect([book()], [book(None, None, ("isbn", models.CharField(max_length=13, null=True)))])
    )
    assert op_types(migration) == [operations.AddField]
    assert migration.atomic is True
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    assert "atomic = False" not in text


def test_removed_model_s_indexes_go_with_the_table() -> None:
    """Deleting a model drops its indexes with it: no RemoveIndexConcurrently.

    Django 6.0+ removes the indexes and constraints before DeleteModel; they
    stay Django's operations, post-deploy with the table.
    """
    changes = detect([book(), shelf()], [book()])
    migrations = changes["testapp"]
    assert [m.stage for m in migrations] == [POST], describe_changes(changes)
    types = op_types(migrations[0])
    assert types[-1] is operations.DeleteModel
    assert set(types[:-1]) <= {operations.RemoveIndex, operations.RemoveConstraint}


def test_removing_indexed_field_drops_index_before_deploy_and_field_after() -> None:
    """Only the migration holding RemoveIndexConcurrently needs to be non-atomic."""
    before = book([models.Index(fields=["pages"], name="book_pages_idx")])
    after = ModelState(
        "testapp",
        "Book",
        [("id", models.AutoField(primary_key=True)), ("title", models.CharField(max_length=200))],
    )
    changes = detect([before], [after])
    drop_index, prep, post = changes["testapp"]
    assert (drop_index.stage, prep.stage, post.stage) == (PRE, PRE, POST), describe_changes(changes)
    assert op_types(drop_index) == [RemoveIndexConcurrently]
    assert drop_index.atomic is False
    assert op_types(prep) == [operations.AlterField]
    assert prep.atomic is True
    assert op_types(post) == [operations.RemoveField]
    assert post.atomic is True


def test_green_operations_module_is_the_import_path() -> None:
    """Migration files import them from here: the path is permanent."""
    for cls in GREEN_OPERATIONS:
        assert cls.__module__ == "green_makemigrations.operations"
        assert getattr(green_operations, cls.__name__) is cls


# -- unique constraints beyond plain fields, unique=True, unique_together ------------


def partial_unique() -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=["title"], condition=models.Q(pages__gt=0), name="book_title_partial"
    )


def unique_title() -> models.CharField[Any, Any]:
    return models.CharField(max_length=200, unique=True)


UNIQUE_OPERATIONS = [
    (AddUniqueConstraintConcurrently("book", partial_unique()), operations.AddConstraint),
    (AlterFieldUniqueConcurrently("book", "title", unique_title()), operations.AlterField),
    (
        AlterFieldUniqueConcurrently("book", "title", unique_title(), preserve_default=False),
        operations.AlterField,
    ),
    (AlterUniqueTogetherConcurrently("book", {("title", "pages")}), operations.AlterUniqueTogether),
    (
        AlterFieldIndexConcurrently(
            "book", "title", models.CharField(max_length=200, db_index=True)
        ),
        operations.AlterField,
    ),
    (
        AddFieldIndexConcurrently("book", "isbn", models.CharField(max_length=13, unique=True)),
        operations.AddField,
    ),
    (
        AddFieldIndexConcurrently(
            "book", "rank", models.IntegerField(db_index=True, default=0), preserve_default=False
        ),
        operations.AddField,
    ),
]


@pytest.mark.parametrize(
    ("operation_class", "parameters"),
    [
        (AlterFieldUniqueConcurrently, ["self", "model_name", "name", "field", "preserve_default"]),
        (AlterFieldIndexConcurrently, ["self", "model_name", "name", "field", "preserve_default"]),
        (AddFieldIndexConcurrently, ["self", "model_name", "name", "field", "preserve_default"]),
        (AlterUniqueTogetherConcurrently, ["self", "name", "unique_together"]),
        (AddUniqueConstraintConcurrently, ["self", "model_name", "constraint"]),
    ],
)
def test_unique_operations_init_signature_is_explicit(
    operation_class: type[Operation], parameters: list[str]
) -> None:
    assert list(inspect.signature(operation_class.__init__).parameters) == parameters


@pytest.mark.parametrize(("operation", "base"), UNIQUE_OPERATIONS)
def test_unique_operations_deconstruct_and_run_outside_transactions(
    operation: Operation, base: type[Operation]
) -> None:
    name, args, kwargs = operation.deconstruct()
    assert name == type(operation).__name__
    rebuilt = type(operation)(*args, **kwargs)
    assert rebuilt.deconstruct() == operation.deconstruct()
    assert isinstance(operation, base)
    assert green_operations.runs_outside_transaction(operation)
    assert operation.reversible is True
    assert "without blocking writes" in operation.describe()
    # The state change is Django's.
    ours = make_project_state([book()])
    theirs = ours.clone()
    operation.state_forwards("testapp", ours)
    stock = base(*args, **kwargs)
    stock.state_forwards("testapp", theirs)
    assert ours.models["testapp", "book"].options == theirs.models["testapp", "book"].options
    assert [
        (field_name, field.deconstruct()[1:])
        for field_name, field in ours.models["testapp", "book"].fields.items()
    ] == [
        (field_name, field.deconstruct()[1:])
        for field_name, field in theirs.models["testapp", "book"].fields.items()
    ]


def test_unique_operations_written_and_reloaded(migrations_package: Path) -> None:
    """MigrationWriter writes them with their import path; the file rebuilds them."""
    migration = make_migration(
        "testapp", "0002_unique", [operation for operation, _ in UNIQUE_OPERATIONS], stage=PRE
    )
    migration.atomic = False
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    path = migrations_package / "0002_unique.py"
    path.write_text(text)
    for cls in (
        AddUniqueConstraintConcurrently,
        AlterFieldUniqueConcurrently,
        AlterUniqueTogetherConcurrently,
        AlterFieldIndexConcurrently,
        AddFieldIndexConcurrently,
    ):
        assert f"green_makemigrations.operations.{cls.__name__}(" in text
    assert "preserve_default=False" in text
    loaded = load_module(path).Migration
    assert loaded.atomic is False
    assert [type(op) for op in loaded.operations] == op_types(migration)
    assert [comparable(op) for op in loaded.operations] == [
        comparable(op) for op in migration.operations
    ]


def comparable(operation: Operation) -> tuple[Any, ...]:
    """Return operation's deconstruction, fields by their own deconstruction."""
    name, args, kwargs = operation.deconstruct()
    return (
        name,
        list(args),
        {
            key: value.deconstruct()[1:] if isinstance(value, models.Field) else value
            for key, value in kwargs.items()
        },
    )


# -- the replacements the autodetector wires in -----------------------------------


def test_online_add_constraint() -> None:
    check = green_operations.online_add_constraint(operations.AddConstraint("book", pages_check()))
    assert type(check) is AddCheckConstraintNotValid
    for constraint in (
        models.UniqueConstraint(fields=["title"], name="plain"),
        partial_unique(),
        models.UniqueConstraint(Lower("title"), name="lower_title"),
        models.UniqueConstraint(fields=["title"], include=["pages"], name="covering"),
        models.UniqueConstraint(
            fields=["title"], deferrable=models.Deferrable.DEFERRED, name="deferred"
        ),
    ):
        replacement = green_operations.online_add_constraint(
            operations.AddConstraint("book", constraint)
        )
        assert type(replacement) is AddUniqueConstraintConcurrently
        assert replacement.constraint is constraint  # type: ignore[attr-defined]
        assert replacement.model_name == "book"  # type: ignore[attr-defined]


def test_online_alter_field() -> None:
    old = models.CharField(max_length=200)
    replacement = green_operations.online_alter_field(
        operations.AlterField("book", "title", unique_title(), preserve_default=False), old
    )
    assert type(replacement) is AlterFieldUniqueConcurrently
    assert replacement.deconstruct() == (  # type: ignore[union-attr]
        "AlterFieldUniqueConcurrently",
        [],
        {
            "model_name": "book",
            "name": "title",
            "field": replacement.field,  # type: ignore[union-attr]
            "preserve_default": False,
        },
    )
    alter = green_operations.online_alter_field
    # Not becoming unique, already unique, or also becoming NOT NULL (SetNotNull's job).
    assert (
        alter(operations.AlterField("book", "title", models.CharField(max_length=9)), old) is None
    )
    assert alter(operations.AlterField("book", "title", unique_title()), unique_title()) is None
    assert (
        alter(
            operations.AlterField("book", "title", unique_title()),
            models.CharField(max_length=200, null=True),
        )
        is None
    )
    assert alter(replacement, old) is None  # type: ignore[arg-type]


def test_online_unique_together() -> None:
    added = operations.AlterUniqueTogether("book", {("title", "pages")})
    replacement = green_operations.online_unique_together(added)
    assert type(replacement) is AlterUniqueTogetherConcurrently
    assert replacement.option_value == {("title", "pages")}  # type: ignore[attr-defined]
    assert (
        green_operations.online_unique_together(operations.AlterUniqueTogether("book", set()))
        is None
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (models.IntegerField(), models.IntegerField(db_index=True), AlterFieldIndexConcurrently),
        (models.IntegerField(db_index=True), models.IntegerField(), AlterFieldIndexConcurrently),
        (
            models.CharField(max_length=5),
            models.CharField(max_length=9, db_index=True),
            AlterFieldIndexConcurrently,
        ),
        (
            models.ForeignKey("testapp.Author", models.CASCADE, db_index=False),
            models.ForeignKey("testapp.Author", models.CASCADE),
            AlterFieldIndexConcurrently,
        ),
        (
            models.ForeignKey("testapp.Author", models.CASCADE),
            models.ForeignKey("testapp.Author", models.CASCADE, db_index=False),
            AlterFieldIndexConcurrently,
        ),
        (
            models.IntegerField(db_index=True),
            models.IntegerField(unique=True),
            AlterFieldUniqueConcurrently,  # which drops the db_index index concurrently
        ),
        (models.IntegerField(unique=True), models.IntegerField(db_index=True), None),
        (models.IntegerField(db_index=True), models.IntegerField(db_index=True, default=1), None),
        (models.IntegerField(null=True), models.IntegerField(db_index=True), None),  # SetNotNull
        (models.IntegerField(), models.IntegerField(unique=True), AlterFieldUniqueConcurrently),
    ],
)
def test_online_alter_field_index(
    old: models.Field[Any, Any], new: models.Field[Any, Any], expected: type[Operation] | None
) -> None:
    """An index added to or dropped from an existing field is built or dropped concurrently."""
    replacement = green_operations.online_alter_field(
        operations.AlterField("book", "title", new), old
    )
    assert (None if replacement is None else type(replacement)) is expected
    if replacement is not None:
        assert replacement.field is new  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (models.CharField(max_length=5, unique=True, null=True), AddFieldIndexConcurrently),
        (models.IntegerField(db_index=True, default=0), AddFieldIndexConcurrently),
        (models.UUIDField(unique=True, default=uuid.uuid4), AddFieldIndexConcurrently),
        (models.IntegerField(default=0), None),
        (models.ForeignKey("testapp.Author", models.CASCADE, null=True), None),  # its own op
        (models.ManyToManyField("testapp.Author"), None),
        (models.AutoField(primary_key=True), None),
    ],
)
def test_online_add_field(field: models.Field[Any, Any], expected: type[Operation] | None) -> None:
    """A unique or db_index column added to an existing table gets its index built online."""
    replacement = green_operations.online_add_field(operations.AddField("book", "extra", field))
    assert (None if replacement is None else type(replacement)) is expected
