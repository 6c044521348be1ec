"""The pure rules: prep steps of removals, database defaults, stages, commuting operations."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from django.db import models
from django.db.migrations import operations
from django.db.models.fields import NOT_PROVIDED
from django.db.models.functions import Lower, Now
from django.utils import timezone

from green_makemigrations import rules
from green_makemigrations.constants import Stage
from green_makemigrations.expressions import RandomUUID

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY


class Color(models.TextChoices):
    RED = "r", "Red"


class Size(models.IntegerChoices):
    SMALL = 1, "Small"


def make_code() -> str:
    """A callable default the database cannot compute."""
    return "code"


# -- database_default_for -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (models.IntegerField(default=0), 0),
        (models.FloatField(default=1.5), 1.5),
        (models.BooleanField(default=True), True),
        (models.CharField(max_length=5, default=""), ""),
        (
            models.DecimalField(max_digits=5, decimal_places=2, default=decimal.Decimal("1.10")),
            decimal.Decimal("1.10"),
        ),
        (models.DateField(default=datetime.date(2024, 1, 2)), datetime.date(2024, 1, 2)),
        (models.TimeField(default=datetime.time(12, 30)), datetime.time(12, 30)),
        (models.DurationField(default=datetime.timedelta(hours=1)), datetime.timedelta(hours=1)),
        (models.UUIDField(default=uuid.UUID(int=7)), uuid.UUID(int=7)),
    ],
    ids=["int", "float", "bool", "empty-str", "decimal", "date", "time", "duration", "uuid"],
)
def test_database_default_for_literal(field: models.Field[Any, Any], expected: Any) -> None:
    result = rules.database_default_for(field)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (models.CharField(max_length=1, default=Color.RED), "r"),
        (models.IntegerField(default=Size.SMALL), 1),
    ],
    ids=["text-choices", "integer-choices"],
)
def test_database_default_for_enum_is_plain_value(
    field: models.Field[Any, Any], expected: Any
) -> None:
    result = rules.database_default_for(field)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    "field",
    [
        models.DateTimeField(auto_now=True),
        models.DateTimeField(auto_now_add=True),
        models.DateTimeField(default=timezone.now),
        models.DateTimeField(default=datetime.datetime.now),
    ],
    ids=["auto_now", "auto_now_add", "timezone.now", "datetime.now"],
)
def test_database_default_for_now(field: models.Field[Any, Any]) -> None:
    assert rules.database_default_for(field) == Now()


def test_database_default_for_uuid4_is_random_uuid() -> None:
    result = rules.database_default_for(models.UUIDField(default=uuid.uuid4))
    assert isinstance(result, RandomUUID)
    assert result == RandomUUID()


@pytest.mark.parametrize(
    "field",
    [
        models.IntegerField(),
        models.IntegerField(default=None),
        models.UUIDField(default=uuid.uuid1),
        models.CharField(max_length=8, default=make_code),
        models.DateField(auto_now=True),
        models.DateField(default=datetime.date.today),
        models.DateField(default=timezone.now),
        models.BinaryField(default=b"abc"),
        models.JSONField(default=dict),
        models.JSONField(default="literal"),
        models.JSONField(default=0),
        models.CharField(max_length=5, default=["not", "a", "literal"]),
    ],
    ids=[
        "no-default",
        "default-none",
        "uuid1",
        "custom-callable",
        "date-auto-now",
        "date-today",
        "date-timezone-now",
        "binary",
        "json-callable",
        "json-str",
        "json-int",
        "list",
    ],
)
def test_database_default_for_unsupported(field: models.Field[Any, Any]) -> None:
    assert rules.database_default_for(field) is NOT_PROVIDED


# -- removal_prep ------------------------------------------------------------


def test_removal_prep_nullable_needs_nothing() -> None:
    prep = rules.removal_prep(models.IntegerField(null=True))
    assert prep.field is None
    assert prep.fallback is False
    assert "nullable" in prep.description


def test_removal_prep_many_to_many_needs_nothing() -> None:
    prep = rules.removal_prep(models.ManyToManyField("testapp.Author"))
    assert prep.field is None
    assert "many-to-many" in prep.description


def test_removal_prep_generated_field_needs_nothing() -> None:
    field = models.GeneratedField(
        expression=Lower("name"), output_field=models.CharField(max_length=10), db_persist=True
    )
    prep = rules.removal_prep(field)
    assert prep.field is None
    assert "generated" in prep.description


def test_removal_prep_existing_db_default_needs_nothing() -> None:
    prep = rules.removal_prep(models.IntegerField(db_default=4))
    assert prep.field is None
    assert "database default" in prep.description


def test_removal_prep_without_default_makes_nullable_keeping_type() -> None:
    field = models.CharField(max_length=42, db_column="code", help_text="h", unique=True)
    prep = rules.removal_prep(field)
    assert prep.field is not None
    assert prep.fallback is True
    assert type(prep.field) is models.CharField
    assert prep.field.deconstruct()[3] == {**field.deconstruct()[3], "null": True}
    assert prep.field is not field and field.null is False  # the original is left alone
    assert "no default" in prep.description


def test_removal_prep_literal_default_keeps_not_null() -> None:
    field = models.PositiveSmallIntegerField(default=3)
    prep = rules.removal_prep(field)
    assert prep.field is not None
    assert prep.fallback is False
    assert type(prep.field) is models.PositiveSmallIntegerField
    assert prep.field.null is False
    assert prep.field.db_default == 3
    assert prep.field.default == 3
    assert "3" in prep.description and "NOT NULL kept" in prep.description


def test_removal_prep_auto_now_add_gets_now() -> None:
    prep = rules.removal_prep(models.DateTimeField(auto_now_add=True))
    assert prep.field is not None
    assert prep.field.db_default == Now()
    assert prep.field.auto_now_add is True
    assert prep.field.null is False
    assert prep.fallback is False


def test_removal_prep_callable_default_falls_back_to_nullable() -> None:
    prep = rules.removal_prep(models.CharField(max_length=8, default=make_code))
    assert prep.field is not None
    assert prep.fallback is True
    assert prep.field.null is True
    assert prep.field.default is make_code
    assert "make_code" in prep.description and "nullable" in prep.description


def test_removal_prep_uuid4_gets_random_uuid_keeping_not_null() -> None:
    field = models.UUIDField(default=uuid.uuid4, unique=True)
    prep = rules.removal_prep(field)
    assert prep.field is not None
    assert prep.fallback is False
    assert prep.field.null is False
    assert prep.field.db_default == RandomUUID()
    assert prep.field.default is uuid.uuid4
    assert prep.field.deconstruct()[3] == {**field.deconstruct()[3], "db_default": RandomUUID()}
    assert "RandomUUID()" in prep.description and "NOT NULL kept" in prep.description


@pytest.mark.parametrize(
    "field",
    [models.BinaryField(default=b"x"), models.JSONField(default="x")],
    ids=["binary", "json"],
)
def test_removal_prep_binary_and_json_literal_defaults_fall_back(
    field: models.Field[Any, Any],
) -> None:
    prep = rules.removal_prep(field)
    assert prep.field is not None
    assert prep.fallback is True
    assert prep.field.null is True
    assert prep.field.db_default is NOT_PROVIDED
    assert type(prep.field) is type(field)


def test_removal_prep_foreign_key_keeps_relation() -> None:
    field = models.ForeignKey(
        "testapp.Author", models.SET_DEFAULT, db_constraint=False, to_field="code", default=1
    )
    prep = rules.removal_prep(field)
    # default=1 is a literal: NOT NULL kept, database default added.
    assert prep.field is not None
    assert isinstance(prep.field, models.ForeignKey)
    kwargs = prep.field.deconstruct()[3]
    assert kwargs == {**field.deconstruct()[3], "db_default": 1}
    assert prep.field.remote_field.on_delete is models.SET_DEFAULT


# -- addition_prep ------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "db_default"),
    [
        (models.IntegerField(default=7), 7),
        (models.CharField(max_length=1, default=Color.RED), "r"),
        (models.IntegerField(default=Size.SMALL), 1),
        (models.DateTimeField(default=timezone.now), Now()),
        (models.DateTimeField(auto_now_add=True), Now()),
        (models.DateTimeField(auto_now=True), Now()),
        (models.UUIDField(default=uuid.uuid4, unique=True), RandomUUID()),
        (models.CharField(max_length=20, blank=True), ""),
        (models.TextField(blank=True), ""),
        (models.ForeignKey("testapp.Author", models.PROTECT, default=1), 1),
    ],
    ids=[
        "literal",
        "text-choices",
        "integer-choices",
        "timezone.now",
        "auto_now_add",
        "auto_now",
        "uuid4",
        "blank-char",
        "blank-text",
        "foreign-key",
    ],
)
def test_addition_prep_adds_database_default(
    field: models.Field[Any, Any], db_default: Any
) -> None:
    prep = rules.addition_prep(field)
    assert prep is not None and prep.field is not None
    assert type(prep.field) is type(field)
    assert prep.field.db_default == db_default
    assert type(prep.field.db_default) is type(db_default)  # plain values, not enum members
    # Only db_default changes: NOT NULL, the Python default, the rest stay.
    assert prep.field.null is False
    assert prep.field.deconstruct()[3] == {**field.deconstruct()[3], "db_default": db_default}
    assert field.db_default is NOT_PROVIDED  # the model's field is left alone
    assert repr(db_default) in prep.description and "post-deploy" in prep.description


def test_addition_prep_one_off_default_is_the_database_default() -> None:
    """Django puts the questioner's one-off default on a clone of the field."""
    field = models.IntegerField()
    field.default = 42
    prep = rules.addition_prep(field)
    assert prep is not None and prep.field is not None
    assert prep.field.db_default == 42


@pytest.mark.parametrize(
    "field",
    [
        models.IntegerField(null=True),
        models.CharField(max_length=10, null=True, default=make_code),
        models.ManyToManyField("testapp.Author"),
        models.AutoField(primary_key=True),
        models.UUIDField(primary_key=True, default=uuid.uuid4),
        models.IntegerField(db_default=3),
        models.GeneratedField(
            expression=Lower("name"), output_field=models.CharField(max_length=10), db_persist=True
        ),
    ],
    ids=["nullable", "nullable-callable", "m2m", "auto-pk", "uuid-pk", "db-default", "generated"],
)
def test_addition_prep_needs_nothing(field: models.Field[Any, Any]) -> None:
    assert rules.addition_prep(field) is None


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (models.IntegerField(), "it has no default"),
        (models.CharField(max_length=10), "it has no default"),
        (models.CharField(max_length=10, blank=True, default=make_code), "make_code"),
        (models.IntegerField(default=None), "it has no default"),  # Django's one-off None
        (models.DateField(auto_now_add=True), "auto_now/auto_now_add on a DateField"),
        (models.DateField(default=datetime.date.today), "today"),
        (models.UUIDField(default=uuid.uuid1), "uuid1"),
        (models.JSONField(default=dict), "dict"),
        (models.JSONField(blank=True), "it has no default"),
        (models.BinaryField(blank=True), "it has no default"),
        (models.ForeignKey("testapp.Author", models.CASCADE), "it has no default"),
    ],
    ids=[
        "no-default",
        "char-no-default",
        "blank-char-callable",
        "default-none",
        "date-auto-now-add",
        "date-today",
        "uuid1",
        "json-callable",
        "blank-json",
        "blank-binary",
        "foreign-key",
    ],
)
def test_addition_prep_refused_when_database_cannot_compute_the_default(
    field: models.Field[Any, Any], reason: str
) -> None:
    prep = rules.addition_prep(field)
    assert prep is not None
    assert prep.field is None
    assert reason in prep.description


# -- operation_stage / infer_stage / drops_data -------------------------------

DELETED = {("testapp", "book")}


@pytest.mark.parametrize(
    ("operation", "stage"),
    [
        (operations.RemoveField("author", "name"), POST),
        (operations.DeleteModel("Author"), POST),
        (operations.AddField("author", "age", models.IntegerField(null=True)), PRE),
        (operations.AlterField("author", "name", models.TextField(null=True)), PRE),
        (operations.CreateModel("Shelf", [("id", models.AutoField(primary_key=True))]), PRE),
        (operations.RemoveIndex("author", "author_idx"), PRE),
        (operations.RemoveConstraint("author", "author_check"), PRE),
        (operations.AlterUniqueTogether("author", set()), PRE),
        (operations.RunSQL("SELECT 1"), PRE),
        # Operations on the deleted model go with its DeleteModel.
        (operations.AlterUniqueTogether("book", None), POST),
        (operations.RemoveIndex("book", "book_idx"), POST),
        (operations.RemoveConstraint("book", "book_check"), POST),
        (operations.AlterOrderWithRespectTo("book", None), POST),
        # Not a removal companion: stays pre-deploy even on a deleted model.
        (operations.AlterField("book", "title", models.TextField(null=True)), PRE),
    ],
    ids=lambda value: value.describe() if hasattr(value, "describe") else str(value),
)
def test_operation_stage(operation: operations.base.Operation, stage: Stage) -> None:
    assert rules.operation_stage(operation, "testapp", DELETED) is stage


def test_operation_stage_deleted_model_is_per_app() -> None:
    operation = operations.AlterUniqueTogether("book", None)
    assert rules.operation_stage(operation, "other", DELETED) is PRE


@pytest.mark.parametrize(
    ("migration_operations", "stage"),
    [
        ([], PRE),
        ([operations.AddField("author", "age", models.IntegerField(null=True))], PRE),
        ([operations.RunSQL("SELECT 1"), operations.RemoveIndex("author", "x")], PRE),
        (
            [
                operations.AddField("author", "age", models.IntegerField(null=True)),
                operations.RemoveField("author", "name"),
            ],
            POST,
        ),
        ([operations.DeleteModel("Author")], POST),
    ],
    ids=["empty", "add", "runsql-removeindex", "add-and-remove", "delete-model"],
)
def test_infer_stage(migration_operations: list[Any], stage: Stage) -> None:
    assert rules.infer_stage(migration_operations) is stage


def test_drops_data() -> None:
    remove = operations.RemoveField("author", "name")
    delete = operations.DeleteModel("Author")
    add = operations.AddField("author", "age", models.IntegerField(null=True))
    assert rules.drops_data([add, remove, delete]) == [remove, delete]
    assert rules.drops_data([add]) == []


# -- touched_keys / keys_conflict / operations_conflict -----------------------


def test_touched_keys_field_operation() -> None:
    operation = operations.AddField("Author", "Age", models.IntegerField(null=True))
    assert rules.touched_keys(operation, "testapp") == {("testapp", "author", "age")}


def test_touched_keys_relation_adds_reference() -> None:
    operation = operations.AddField(
        "book", "author", models.ForeignKey("other.Author", models.CASCADE)
    )
    assert rules.touched_keys(operation, "testapp") == {
        ("testapp", "book", "author"),
        ("other", "author", rules.REFERENCE),
    }


def test_touched_keys_relation_without_app_label_and_self() -> None:
    fk = operations.AddField("book", "shelf", models.ForeignKey("Shelf", models.CASCADE))
    assert ("testapp", "shelf", rules.REFERENCE) in rules.touched_keys(fk, "testapp")
    parent = operations.AddField("book", "parent", models.ForeignKey("self", models.CASCADE))
    assert rules.touched_keys(parent, "testapp") == {("testapp", "book", "parent")}


def test_touched_keys_many_to_many_through() -> None:
    operation = operations.AddField(
        "book", "tags", models.ManyToManyField("other.Tag", through="testapp.BookTag")
    )
    assert rules.touched_keys(operation, "testapp") == {
        ("testapp", "book", "tags"),
        ("other", "tag", rules.REFERENCE),
        ("testapp", "booktag", rules.REFERENCE),
    }


def test_touched_keys_rename_field() -> None:
    operation = operations.RenameField("book", "Title", "Name")
    assert rules.touched_keys(operation, "testapp") == {
        ("testapp", "book", "title"),
        ("testapp", "book", "name"),
    }


def test_touched_keys_model_operations() -> None:
    create = operations.CreateModel(
        "Book",
        [
            ("id", models.AutoField(primary_key=True)),
            ("author", models.ForeignKey("testapp.Author", models.CASCADE)),
        ],
    )
    assert rules.touched_keys(create, "testapp") == {
        ("testapp", "book", rules.MODEL),
        ("testapp", "author", rules.REFERENCE),
    }
    rename = operations.RenameModel("Book", "Volume")
    assert rules.touched_keys(rename, "testapp") == {
        ("testapp", "book", rules.MODEL),
        ("testapp", "volume", rules.MODEL),
    }
    assert rules.touched_keys(operations.DeleteModel("Book"), "testapp") == {
        ("testapp", "book", rules.MODEL)
    }


def test_touched_keys_meta_operations() -> None:
    index = operations.AddIndex("book", models.Index(fields=["title"], name="book_title_idx"))
    together = operations.AlterUniqueTogether("book", {("a", "b")})
    for operation in (index, together):
        assert rules.touched_keys(operation, "testapp") == {("testapp", "book", rules.META)}


def test_touched_keys_unknown_operations_touch_everything() -> None:
    run_sql = operations.RunSQL("SELECT 1")
    run_python = operations.RunPython(operations.RunPython.noop)
    for operation in (run_sql, run_python):
        assert rules.touched_keys(operation, "testapp") == {rules.WILDCARD}


FIELD_A = ("app", "book", "title")
FIELD_B = ("app", "book", "pages")


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [
        ({FIELD_A}, {FIELD_A}, True),
        ({FIELD_A}, {FIELD_B}, False),
        ({FIELD_A}, {("app", "book", rules.MODEL)}, True),
        ({("app", "book", rules.MODEL)}, {("app", "book", rules.REFERENCE)}, True),
        ({FIELD_A}, {("app", "book", rules.REFERENCE)}, False),
        ({("app", "book", rules.REFERENCE)}, {("app", "book", rules.REFERENCE)}, False),
        ({("app", "book", rules.META)}, {("app", "book", rules.META)}, True),
        ({("app", "book", rules.META)}, {FIELD_A}, False),
        ({FIELD_A}, {("other", "book", "title")}, False),
        ({FIELD_A}, {("app", "author", "title")}, False),
        ({rules.WILDCARD}, {FIELD_B}, True),
        ({FIELD_B}, {rules.WILDCARD}, True),
        ({rules.WILDCARD}, set(), False),
        (set(), set(), False),
    ],
)
def test_keys_conflict(first: set[rules.Key], second: set[rules.Key], conflict: bool) -> None:
    assert rules.keys_conflict(first, second) is conflict
    assert rules.keys_conflict(second, first) is conflict


def test_operations_conflict() -> None:
    remove = operations.RemoveField("book", "old")
    add_back = operations.AddField("book", "old", models.IntegerField(null=True))
    add_other = operations.AddField("book", "new", models.IntegerField(null=True))
    assert rules.operations_conflict([add_back], "testapp", [remove], "testapp") is True
    assert rules.operations_conflict([add_other], "testapp", [remove], "testapp") is False
    # Same names in another app do not conflict.
    assert rules.operations_conflict([add_back], "other", [remove], "testapp") is False
    delete = operations.DeleteModel("Author")
    fk = operations.AddField("book", "author", models.ForeignKey("testapp.Author", models.CASCADE))
    assert rules.operations_conflict([fk], "testapp", [delete], "testapp") is True
