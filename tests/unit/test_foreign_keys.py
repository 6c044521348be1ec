"""AddForeignKeyNotValid, AlterFieldForeignKeyNotValid and their selectors, without a database.

Signatures and deconstruct() (what the migration writer writes), a round trip
through a written migration file, describe(), the state change (Django's),
the optimizer, and which operations online_add_field() / online_alter_field()
replace. What they do to a database is tested in
tests/commands/test_foreign_keys_online.py.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.optimizer import MigrationOptimizer
from django.db.migrations.state import ModelState, ProjectState

from green_makemigrations import foreign_keys
from green_makemigrations.constants import Stage
from green_makemigrations.foreign_keys import (
    AddForeignKeyNotValid,
    AlterFieldForeignKeyNotValid,
    online_add_field,
    online_alter_field,
)
from green_makemigrations.operations import SetNotNull, runs_outside_transaction
from green_makemigrations.writer import StagedMigrationWriter

from .helpers import load_module, make_migration, make_project_state

OPERATIONS = (AddForeignKeyNotValid, AlterFieldForeignKeyNotValid)


def author_fk(**options: Any) -> models.ForeignKey[Any, Any]:
    return models.ForeignKey("testapp.author", models.CASCADE, null=True, **options)


def editor() -> models.OneToOneField[Any, Any]:
    return models.OneToOneField("testapp.author", models.SET_NULL, null=True, related_name="+")


def states(*book_fields: tuple[str, models.Field[Any, Any]]) -> ProjectState:
    return make_project_state(
        [
            ModelState(
                "testapp",
                "Author",
                [("id", models.AutoField(primary_key=True))],
            ),
            ModelState(
                "testapp",
                "Book",
                [
                    ("id", models.AutoField(primary_key=True)),
                    ("title", models.CharField(max_length=50)),
                    *book_fields,
                ],
            ),
        ]
    )


def relations(state: ProjectState) -> dict[Any, Any]:
    """Return state's relations with the fields deconstructed (fields compare by identity)."""
    return {
        model: {
            related: {name: field.deconstruct()[1:] for name, field in fields.items()}
            for related, fields in by_model.items()
        }
        for model, by_model in state.relations.items()
    }


def deconstructed(operation: Operation) -> tuple[Any, ...]:
    """Return deconstruct() with the field deconstructed too (fields compare by identity)."""
    name, args, kwargs = operation.deconstruct()
    kwargs = {**kwargs, "field": kwargs["field"].deconstruct()[1:]}
    return name, list(args), kwargs


# -- signatures, deconstruct(), describe() ----------------------------------------


@pytest.mark.parametrize("operation_class", OPERATIONS)
def test_init_signature_is_explicit(operation_class: type[Operation]) -> None:
    """The migration writer maps deconstruct()'s kwargs onto __init__'s parameters."""
    signature = inspect.signature(operation_class.__init__)
    assert list(signature.parameters) == [
        "self",
        "model_name",
        "name",
        "field",
        "preserve_default",
    ]
    assert signature.parameters["preserve_default"].default is True


@pytest.mark.parametrize("operation_class", OPERATIONS)
@pytest.mark.parametrize("preserve_default", [True, False])
def test_deconstruct(operation_class: type[Operation], preserve_default: bool) -> None:
    operation: Any = operation_class("book", "author", author_fk(), preserve_default)
    name, args, kwargs = operation.deconstruct()
    expected: dict[str, Any] = {"model_name": "book", "name": "author", "field": operation.field}
    if not preserve_default:
        expected["preserve_default"] = False
    assert (name, list(args), kwargs) == (operation_class.__name__, [], expected)
    rebuilt = operation_class(*args, **kwargs)
    assert type(rebuilt) is operation_class
    assert rebuilt.deconstruct() == operation.deconstruct()


@pytest.mark.parametrize(
    ("operation_class", "base"),
    [
        (AddForeignKeyNotValid, operations.AddField),
        (AlterFieldForeignKeyNotValid, operations.AlterField),
    ],
)
def test_django_subclasses_run_outside_transactions(
    operation_class: type[Operation], base: type[Operation]
) -> None:
    assert issubclass(operation_class, base)
    assert operation_class.reversible is True
    assert runs_outside_transaction(operation_class)
    assert operation_class.__module__ == "green_makemigrations.foreign_keys"
    assert getattr(foreign_keys, operation_class.__name__) is operation_class


def test_describe() -> None:
    assert AddForeignKeyNotValid("book", "author", author_fk()).describe() == (
        "Add field author to book, its foreign key validated without blocking writes"
    )
    assert AlterFieldForeignKeyNotValid("book", "author", author_fk()).describe() == (
        "Alter field author on book, its foreign key validated without blocking writes"
    )


def test_migration_name_fragments_are_django_s() -> None:
    assert (
        AddForeignKeyNotValid("book", "author", author_fk()).migration_name_fragment
        == operations.AddField("book", "author", author_fk()).migration_name_fragment
    )
    assert (
        AlterFieldForeignKeyNotValid("book", "author", author_fk()).migration_name_fragment
        == operations.AlterField("book", "author", author_fk()).migration_name_fragment
    )


# -- state changes --------------------------------------------------------------


def test_add_state_change_is_add_field_s() -> None:
    ours, theirs = states(), states()
    AddForeignKeyNotValid("book", "author", author_fk()).state_forwards("testapp", ours)
    operations.AddField("book", "author", author_fk()).state_forwards("testapp", theirs)
    assert ours.models == theirs.models
    assert ours.models["testapp", "book"].fields["author"].deconstruct() == (
        author_fk().deconstruct()
    )
    # The relations agree too.
    assert relations(ours) == relations(theirs) != {}
    field = ours.apps.get_model("testapp", "book")._meta.get_field("author")
    assert field.remote_field.model is ours.apps.get_model("testapp", "author")


def test_alter_state_change_is_alter_field_s() -> None:
    old = ("author", models.IntegerField(null=True, db_column="author_id"))
    ours, theirs = states(old), states(old)
    AlterFieldForeignKeyNotValid("book", "author", author_fk()).state_forwards("testapp", ours)
    operations.AlterField("book", "author", author_fk()).state_forwards("testapp", theirs)
    assert ours.models == theirs.models
    assert relations(ours) == relations(theirs) != {}


# -- round trip through a written migration ---------------------------------------


def test_written_migration_round_trip(tmp_path: Path) -> None:
    """StagedMigrationWriter writes the operations; the file imports them back, equal."""
    ops = [
        AddForeignKeyNotValid("book", "author", author_fk(db_index=False)),
        AddForeignKeyNotValid(
            "book",
            "owner",
            models.ForeignKey("testapp.author", models.CASCADE, default=1, related_name="+"),
            preserve_default=False,
        ),
        AlterFieldForeignKeyNotValid("book", "editor", editor()),
    ]
    migration = make_migration("testapp", "0002_fks", ops, stage=Stage.PRE_DEPLOY)
    migration.atomic = False  # type: ignore[misc]  # as the autodetector sets it
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    path = tmp_path / "0002_fks.py"
    path.write_text(text)
    assert "import green_makemigrations.foreign_keys\n" in text
    assert "green_makemigrations.foreign_keys.AddForeignKeyNotValid(" in text
    assert "green_makemigrations.foreign_keys.AlterFieldForeignKeyNotValid(" in text
    assert "preserve_default=False" in text
    assert "    atomic = False\n" in text

    loaded = load_module(path).Migration
    assert [type(op) for op in loaded.operations] == [type(op) for op in ops]
    assert [deconstructed(op) for op in loaded.operations] == [deconstructed(op) for op in ops]
    before = states(("editor", models.IntegerField(null=True)))
    ours, theirs = before.clone(), before.clone()
    for operation in loaded.operations:
        operation.state_forwards("testapp", ours)
    for operation in ops:
        operation.state_forwards("testapp", theirs)
    assert ours.models == theirs.models


# -- the optimizer ------------------------------------------------------------------


def optimize(*ops: Operation) -> list[Operation]:
    return list(MigrationOptimizer().optimize(list(ops), "testapp"))


def test_altered_after_adding_stays_ours() -> None:
    [reduced] = optimize(
        AddForeignKeyNotValid("book", "author", author_fk()),
        operations.AlterField("book", "author", author_fk(db_index=False)),
    )
    assert type(reduced) is AddForeignKeyNotValid
    assert reduced.field.deconstruct() == author_fk(db_index=False).deconstruct()


def test_altered_to_no_constraint_after_adding_is_django_s() -> None:
    [reduced] = optimize(
        AddForeignKeyNotValid("book", "author", author_fk()),
        operations.AlterField("book", "author", author_fk(db_constraint=False)),
    )
    assert type(reduced) is operations.AddField


def test_renamed_after_adding_stays_ours() -> None:
    [reduced] = optimize(
        AddForeignKeyNotValid("book", "author", author_fk()),
        operations.RenameField("book", "author", "writer"),
    )
    assert type(reduced) is AddForeignKeyNotValid
    assert reduced.name == "writer"


def test_removed_after_adding_is_nothing() -> None:
    assert (
        optimize(
            AddForeignKeyNotValid("book", "author", author_fk()),
            operations.RemoveField("book", "author"),
        )
        == []
    )


# -- online_add_field() / online_alter_field() --------------------------------------


@pytest.mark.parametrize("field", [author_fk(), editor()], ids=["foreign_key", "one_to_one"])
def test_added_relation_with_constraint_is_replaced(field: models.Field[Any, Any]) -> None:
    operation = operations.AddField("book", "author", field, preserve_default=False)
    replacement = online_add_field(operation)
    assert type(replacement) is AddForeignKeyNotValid
    assert replacement.deconstruct()[1:] == operation.deconstruct()[1:]


@pytest.mark.parametrize(
    "field",
    [
        author_fk(db_constraint=False),
        models.ManyToManyField("testapp.author"),
        models.IntegerField(null=True),
        models.OneToOneField("testapp.author", models.CASCADE, primary_key=True),
    ],
    ids=["no_constraint", "many_to_many", "integer", "primary_key"],
)
def test_other_added_fields_are_kept(field: models.Field[Any, Any]) -> None:
    assert online_add_field(operations.AddField("book", "author", field)) is None


def test_added_field_already_replaced_is_kept() -> None:
    assert online_add_field(AddForeignKeyNotValid("book", "author", author_fk())) is None


@pytest.mark.parametrize(
    "old_field",
    [
        models.IntegerField(null=True, db_column="author_id"),
        models.IntegerField(null=True),
        author_fk(db_constraint=False),
    ],
    ids=["integer", "renamed_integer", "fk_without_constraint"],
)
def test_alter_giving_a_constraint_is_replaced(old_field: models.Field[Any, Any]) -> None:
    operation = operations.AlterField("book", "author", author_fk())
    replacement = online_alter_field(operation, old_field)
    assert type(replacement) is AlterFieldForeignKeyNotValid
    assert replacement.deconstruct()[1:] == operation.deconstruct()[1:]


def test_alter_to_one_to_one_is_replaced() -> None:
    operation = operations.AlterField("book", "editor", editor())
    assert type(online_alter_field(operation, models.IntegerField(null=True))) is (
        AlterFieldForeignKeyNotValid
    )


@pytest.mark.parametrize(
    ("old_field", "new_field"),
    [
        (author_fk(), author_fk(db_index=False)),  # had its constraint already
        (author_fk(), models.IntegerField(null=True)),  # loses it
        (models.IntegerField(null=True), author_fk(db_constraint=False)),
        (models.IntegerField(null=True), models.BigIntegerField(null=True)),
    ],
    ids=["constrained_before", "constraint_dropped", "no_constraint_after", "no_relation"],
)
def test_other_alters_are_kept(
    old_field: models.Field[Any, Any], new_field: models.Field[Any, Any]
) -> None:
    assert online_alter_field(operations.AlterField("book", "author", new_field), old_field) is None


def test_alter_subclasses_are_kept() -> None:
    """An AlterField already replaced (SetNotNull, ours) is not replaced again."""
    old = models.IntegerField(null=True)
    assert online_alter_field(SetNotNull("book", "author", author_fk()), old) is None
    assert online_alter_field(AlterFieldForeignKeyNotValid("book", "author", author_fk()), old) is (
        None
    )
