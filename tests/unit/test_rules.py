"""The pure rules: prep steps of removals, database defaults, stages, commuting operations."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest
from django.db import models
from django.db.migrations import operations
from django.db.migrations.state import ModelState, ProjectState
from django.db.models.fields import NOT_PROVIDED
from django.db.models.functions import Lower, Now
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from green_makemigrations import rules, views
from green_makemigrations.constants import Stage
from green_makemigrations.expressions import RandomUUID

from .helpers import make_project_state

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
        models.BinaryField(default=bytes),
        models.JSONField(default=None),
        models.JSONField(default=set),
        models.JSONField(default=make_code),
        models.JSONField(default={"when": datetime.date(2024, 1, 1)}),
        models.CharField(max_length=5, default=["not", "a", "literal"]),
        models.CharField(max_length=5, default=int),
        models.CharField(max_length=5, default=list),
        models.IntegerField(default=str),
        models.IntegerField(default=dict),
        models.DateField(default=str),
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
        "binary-bytes",
        "json-none",
        "json-set",
        "json-custom-callable",
        "json-not-serializable",
        "list",
        "char-int",
        "char-list",
        "int-str",
        "int-dict",
        "date-str",
    ],
)
def test_database_default_for_unsupported(field: models.Field[Any, Any]) -> None:
    assert rules.database_default_for(field) is NOT_PROVIDED


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (models.JSONField(default=list), []),
        (models.JSONField(default=dict), {}),
        (models.JSONField(default=tuple), ()),
        (models.JSONField(default=str), ""),
        (models.JSONField(default=int), 0),
        (models.JSONField(default=bool), False),
        (models.JSONField(default="literal"), "literal"),
        (models.JSONField(default=0), 0),
        (models.JSONField(default={"a": [1, None]}), {"a": [1, None]}),
        (models.CharField(max_length=5, default=str), ""),
        (models.TextField(default=str), ""),
        (models.IntegerField(default=int), 0),
        (models.BigIntegerField(default=int), 0),
        (models.FloatField(default=float), 0.0),
        (models.BooleanField(default=bool), False),
        (
            models.DecimalField(max_digits=5, decimal_places=2, default=decimal.Decimal),
            decimal.Decimal(0),
        ),
    ],
    ids=lambda value: repr(value) if not isinstance(value, models.Field) else None,
)
def test_database_default_for_constant_values(field: models.Field[Any, Any], expected: Any) -> None:
    """Constant callables (list, dict, str…) and JSON literals become database defaults."""
    result = rules.database_default_for(field)
    assert result == expected
    assert type(result) is type(expected)


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
    [models.BinaryField(default=b"x"), models.JSONField(default=set)],
    ids=["binary", "json-set"],
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
        (models.JSONField(default=set), "set"),
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
        "json-set",
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


# -- unique fields: no constant database default --------------------------------

UNIQUE_OPTIONS = {
    "unique=True": ({}, {"unique": True}),
    "unique_together": ({"unique_together": {("a", "c")}}, {}),
    "constraint": ({"constraints": [models.UniqueConstraint(fields=["a", "c"], name="u")]}, {}),
    "conditional-constraint": (
        {
            "constraints": [
                models.UniqueConstraint(fields=["c"], condition=models.Q(a__gt=0), name="u")
            ]
        },
        {},
    ),
    "expression-constraint": (
        {"constraints": [models.UniqueConstraint(Lower("c"), name="u")]},
        {},
    ),
}
NOT_UNIQUE_OPTIONS = {
    "plain": ({}, {}),
    "other-field-unique_together": ({"unique_together": {("a", "b")}}, {}),
    "other-field-constraint": (
        {"constraints": [models.UniqueConstraint(fields=["a"], name="u")]},
        {},
    ),
    "check-constraint": (
        {"constraints": [models.CheckConstraint(condition=models.Q(c__gt=""), name="k")]},
        {},
    ),
    "index": ({"indexes": [models.Index(fields=["c"], name="i")]}, {}),
}
CONSTANT_DEFAULTS = {
    "literal": {"default": "x"},
    "constant-callable": {"default": str},
    "blank": {"blank": True},
}


def unique_char(kwargs: dict[str, Any]) -> models.Field[Any, Any]:
    return models.CharField(max_length=10, **kwargs)


@pytest.mark.parametrize("how", UNIQUE_OPTIONS)
def test_unique_reason_finds_every_kind_of_uniqueness(how: str) -> None:
    options, kwargs = UNIQUE_OPTIONS[how]
    reason = rules.unique_reason(unique_char(kwargs), "c", options)
    assert reason is not None
    assert ("u" in reason) if "constraint" in how else (how.split("=")[0] in reason)


@pytest.mark.parametrize("how", NOT_UNIQUE_OPTIONS)
def test_unique_reason_none_when_not_unique(how: str) -> None:
    options, kwargs = NOT_UNIQUE_OPTIONS[how]
    assert rules.unique_reason(unique_char(kwargs), "c", options) is None


def test_unique_reason_counts_one_to_one_not_primary_key() -> None:
    assert rules.unique_reason(models.OneToOneField("testapp.Author", models.CASCADE), "c", {})
    assert rules.unique_reason(models.AutoField(primary_key=True), "id", {}) is None


@pytest.mark.parametrize("how", UNIQUE_OPTIONS)
@pytest.mark.parametrize("default", CONSTANT_DEFAULTS)
def test_addition_prep_refuses_constant_default_on_unique(how: str, default: str) -> None:
    options, kwargs = UNIQUE_OPTIONS[how]
    field = unique_char({**kwargs, **CONSTANT_DEFAULTS[default]})
    prep = rules.addition_prep(field, rules.unique_reason(field, "c", options))
    assert prep is not None
    assert prep.field is None and prep.unique is True
    assert "unique" in prep.description and "same value" in prep.description


@pytest.mark.parametrize("how", UNIQUE_OPTIONS)
def test_addition_prep_keeps_per_row_default_on_unique(how: str) -> None:
    options, kwargs = UNIQUE_OPTIONS[how]
    field = models.UUIDField(default=uuid.uuid4, **kwargs)
    prep = rules.addition_prep(field, rules.unique_reason(field, "c", options))
    assert prep is not None and prep.field is not None
    assert prep.field.db_default == RandomUUID()


@pytest.mark.parametrize("how", UNIQUE_OPTIONS)
@pytest.mark.parametrize("default", ["literal", "constant-callable"])
def test_removal_prep_of_unique_falls_back_to_nullable(how: str, default: str) -> None:
    options, kwargs = UNIQUE_OPTIONS[how]
    field = unique_char({**kwargs, **CONSTANT_DEFAULTS[default]})
    prep = rules.removal_prep(field, rules.unique_reason(field, "c", options))
    assert prep.field is not None and prep.fallback is True
    assert prep.field.null is True and prep.field.db_default is NOT_PROVIDED
    assert "unique" in prep.description


def test_removal_prep_of_unique_uuid4_keeps_random_default() -> None:
    field = models.UUIDField(default=uuid.uuid4, unique=True)
    prep = rules.removal_prep(field, "unique=True")
    assert prep.field is not None and prep.fallback is False
    assert prep.field.db_default == RandomUUID()


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


# -- drops inside SeparateDatabaseAndState ----------------------------------

# Every operation that drops a column or table, and some that do not.
DROPS = [
    operations.RemoveField("author", "name"),
    operations.DeleteModel("Author"),
    operations.AlterOrderWithRespectTo("author", None),
]
NOT_DROPS = [
    operations.AddField("author", "age", models.IntegerField(null=True)),
    operations.AlterOrderWithRespectTo("author", "book"),
    operations.RemoveIndex("author", "author_idx"),
    operations.RunSQL("SELECT 1"),
]


def wrapped(operation: operations.base.Operation, depth: int, side: str) -> Any:
    """Return operation inside depth SeparateDatabaseAndStates, on side ("database"/"state")."""
    for _ in range(depth):
        operation = operations.SeparateDatabaseAndState(**{f"{side}_operations": [operation]})
    return operation


@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("side", ["database", "state"])
@pytest.mark.parametrize("operation", DROPS + NOT_DROPS, ids=lambda operation: operation.describe())
def test_drops_seen_through_separate_database_and_state(
    operation: operations.base.Operation, depth: int, side: str
) -> None:
    outer = wrapped(operation, depth, side)
    # Only what reaches the database drops: a removal of the state alone does not.
    drops = operation in DROPS and (depth == 0 or side == "database")
    assert rules.is_drop(outer) is drops
    assert rules.drops_data([NOT_DROPS[0], outer]) == ([operation] if drops else [])
    assert rules.infer_stage([outer]) is (POST if drops else PRE)
    assert rules.operation_stage(outer, "testapp", set()) is (POST if drops else PRE)


def test_drops_of_tableless_models_inside_separate_database_and_state() -> None:
    outer = wrapped(operations.DeleteModel("Proxy"), 2, "database")
    assert rules.drops_data([outer], {"proxy"}) == []
    assert rules.is_drop(outer, {"author"}) is True


def test_database_operations() -> None:
    remove, add = DROPS[0], NOT_DROPS[0]
    outer = operations.SeparateDatabaseAndState(
        database_operations=[add, wrapped(remove, 1, "database")], state_operations=[remove]
    )
    assert rules.database_operations(outer) == [add, remove]
    assert rules.database_operations(add) == [add]
    assert rules.database_operations(operations.SeparateDatabaseAndState()) == []


def test_drops_need_a_table_or_a_column() -> None:
    # What the project state says drops nothing in the database.
    remove_member = operations.RemoveField("club", "members")
    assert rules.drops_data([remove_member]) == [remove_member]  # no state: counted
    assert rules.drops_data([remove_member], (), {("club", "members")}) == []
    for operation in (
        operations.RemoveField("proxy", "name"),
        operations.AlterOrderWithRespectTo("proxy", None),
        operations.DeleteModel("Proxy"),
    ):
        assert rules.is_drop(operation) is True
        assert rules.is_drop(wrapped(operation, 1, "database"), {"proxy"}) is False


def test_columnless_fields() -> None:
    fields: list[tuple[str, Any]] = [
        ("id", models.AutoField(primary_key=True)),
        ("members", models.ManyToManyField("testapp.Person", through="testapp.Membership")),
        ("fans", models.ManyToManyField("testapp.Person")),
        ("name", models.CharField(max_length=5)),
    ]
    if rules.COLUMNLESS_FIELDS:
        fields.append(("pk", rules.COLUMNLESS_FIELDS[0]("id", "name")))
    club = ModelState("testapp", "Club", fields)
    expected = {("club", "members")} | ({("club", "pk")} if rules.COLUMNLESS_FIELDS else set())
    assert rules.columnless_fields([club]) == expected


# -- destructive_sql ---------------------------------------------------------

DESTRUCTIVE_SQL = [
    ("ALTER TABLE testapp_book DROP COLUMN isbn", "DROP COLUMN"),
    ("alter table `testapp_book` drop `isbn`", "DROP COLUMN"),
    ('ALTER TABLE ONLY "testapp_book" DROP IF EXISTS "isbn" CASCADE', "DROP COLUMN"),
    ("ALTER TABLE t ADD COLUMN a int, DROP COLUMN b", "DROP COLUMN"),
    ("ALTER TABLE t DROP PARTITION p2019", "DROP PARTITION"),
    ("DROP TABLE testapp_book", "DROP TABLE"),
    ("drop table if exists [testapp_book]", "DROP TABLE"),
    ("DROP /* the old one */ TABLE x", "DROP TABLE"),
    ("DROP VIEW testapp_old", "DROP VIEW"),
    ("DROP MATERIALIZED VIEW m", "DROP MATERIALIZED VIEW"),
    ("DROP SCHEMA s CASCADE", "DROP SCHEMA"),
    ("DROP TYPE mood CASCADE", "DROP ... CASCADE"),
    ("TRUNCATE testapp_book", "TRUNCATE"),
    ("truncate table testapp_book restart identity", "TRUNCATE"),
    ("ALTER TABLE testapp_book RENAME TO testapp_volume", "RENAME"),
    ("ALTER TABLE testapp_book RENAME COLUMN isbn TO number", "RENAME"),
    ('ALTER TABLE "testapp_book" RENAME "isbn" TO "number"', "RENAME"),
    ("ALTER VIEW v RENAME TO w", "RENAME"),
    ("RENAME TABLE testapp_book TO testapp_volume", "RENAME TABLE"),
    ("ALTER TABLE testapp_book CHANGE isbn number varchar(13)", "CHANGE (rename)"),
    ("ALTER TABLE t CHANGE COLUMN `a` `b` int", "CHANGE (rename)"),
    ("EXEC sp_rename 'testapp_book.isbn', 'number', 'COLUMN'", "sp_rename"),
    ("DO $$ BEGIN DROP TABLE x; END $$", "DROP TABLE"),
    ("DO $body$ BEGIN IF true THEN ALTER TABLE t DROP c; END IF; END $body$", "DROP COLUMN"),
    ("SELECT 1; -- the next one matters\nDROP TABLE x;", "DROP TABLE"),
]
HARMLESS_SQL = [
    "SELECT 1",
    "",
    "-- DROP TABLE x",
    "/* ALTER TABLE t DROP COLUMN c */ SELECT 1",
    "# DROP TABLE x",
    "SELECT 'DROP TABLE x'",
    "INSERT INTO t (note) VALUES ('we DROP COLUMN here; RENAME TABLE too')",
    'ALTER TABLE "drop" ADD COLUMN "rename" int',
    "ALTER TABLE t ADD COLUMN dropped boolean",
    "ALTER TABLE t ALTER COLUMN c DROP NOT NULL",
    "ALTER TABLE t ALTER c DROP DEFAULT",
    "ALTER TABLE t ALTER COLUMN c DROP IDENTITY IF EXISTS",
    "ALTER TABLE t DROP CONSTRAINT t_check",
    "ALTER TABLE t DROP INDEX t_idx",
    "ALTER TABLE t DROP FOREIGN KEY t_fk",
    "ALTER TABLE t DROP PRIMARY KEY",
    "ALTER TABLE t DROP CHECK t_check",
    "ALTER TABLE t RENAME CONSTRAINT a TO b",
    "ALTER TABLE t RENAME INDEX a TO b",
    "ALTER TABLE t CHANGE c C int",
    "DROP INDEX t_idx",
    "DROP TRIGGER t_sync ON t",
    "DROP FUNCTION f()",
    "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN DROP TABLE x; END $$ LANGUAGE plpgsql",
    "CREATE INDEX CONCURRENTLY drop_idx ON t (c)",
    "UPDATE t SET c = 1",
]


@pytest.mark.parametrize(("sql", "action"), DESTRUCTIVE_SQL, ids=[s for s, _ in DESTRUCTIVE_SQL])
@pytest.mark.parametrize("form", ["str", "list", "params", "separate"])
def test_destructive_sql(sql: str, action: str, form: str) -> None:
    harmless = "UPDATE t SET c = 1"
    if form == "str":
        operation: Any = operations.RunSQL(f"{harmless};\n{sql}")
    elif form == "list":
        operation = operations.RunSQL([harmless, sql])
    elif form == "params":
        operation = operations.RunSQL([(harmless, [1]), (sql, None)])
    else:
        operation = wrapped(operations.RunSQL(sql), 2, "database")
    [finding] = rules.destructive_sql(operation)
    assert finding.action == action
    # The statement itself, without its neighbours or the comments before it.
    assert finding.statement.split()[0].upper() in {
        "ALTER",
        "DROP",
        "TRUNCATE",
        "RENAME",
        "EXEC",
        "DO",
    }
    assert finding.statement in " ".join(sql.split())


@pytest.mark.parametrize("sql", HARMLESS_SQL)
def test_destructive_sql_harmless(sql: str) -> None:
    assert rules.destructive_sql(operations.RunSQL(sql, reverse_sql="DROP TABLE t")) == []
    assert rules.destructive_sql(operations.RunSQL([sql, (sql, None)])) == []


def test_destructive_sql_case_and_comments_do_not_hide() -> None:
    for sql in ("dRoP\tTaBlE x", "DROP -- why\n TABLE x", "DROP/**/TABLE x"):
        assert [f.action for f in rules.destructive_sql(operations.RunSQL(sql))] == ["DROP TABLE"]


SEPARATORS = st.sampled_from(
    [" ", "\n", "\t ", " /* DROP TABLE x */ ", " -- DROP TABLE x\n", "/**/"]
)


@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_destructive_sql_survives_case_spacing_and_comments(data: st.DataObject) -> None:
    # Separators go between words: not inside the comments some statements hold.
    sql, action = data.draw(
        st.sampled_from([(s, a) for s, a in DESTRUCTIVE_SQL if "/*" not in s and "--" not in s])
    )
    words = []
    for word in sql.split():
        if "$" not in word:  # a dollar quote's closing tag must match its opening one
            word = data.draw(st.sampled_from([word.lower(), word.upper(), word.title(), word]))
        words.append(word)
    rewritten = words[0] + "".join(data.draw(SEPARATORS) + word for word in words[1:])
    assert action in [f.action for f in rules.destructive_sql(operations.RunSQL(rewritten))]


@given(sql=st.sampled_from([s for s, _ in DESTRUCTIVE_SQL]), quote=st.sampled_from(["'", "c"]))
def test_destructive_sql_in_literals_and_comments_is_harmless(sql: str, quote: str) -> None:
    if quote == "'":
        hidden = "SELECT '" + sql.replace("'", "''") + "'"
    else:
        hidden = "SELECT 1 /* " + sql.replace("*/", "") + " */"
    assert rules.destructive_sql(operations.RunSQL(hidden)) == []


def test_destructive_sql_only_reads_run_sql() -> None:
    assert rules.destructive_sql(operations.RemoveField("book", "isbn")) == []
    state_only = operations.SeparateDatabaseAndState(
        state_operations=[operations.RunSQL("DROP TABLE t")]
    )
    assert rules.destructive_sql(state_only) == []
    assert rules.destructive_sql(operations.RunSQL(operations.RunSQL.noop)) == []


# -- database_renames --------------------------------------------------------


def model(name: str, *fields: tuple[str, Any], **options: Any) -> ModelState:
    return ModelState(
        "testapp", name, [("id", models.AutoField(primary_key=True)), *fields], options
    )


def renames_state() -> ProjectState:
    return make_project_state(
        [
            model(
                "Book",
                ("isbn", models.CharField(max_length=13)),
                ("code", models.CharField(max_length=5, db_column="legacy_code")),
                ("author", models.ForeignKey("testapp.Author", models.CASCADE)),
                ("tags", models.ManyToManyField("testapp.Tag")),
                ("kept", models.ManyToManyField("testapp.Tag", db_table="book_kept")),
                ("related", models.ManyToManyField("self")),
            ),
            model("Author"),
            model("Tag"),
            model("Shelf", ("books", models.ManyToManyField("testapp.Book")), db_table="shelf"),
            model("Proxy", proxy=True),
            model("Outside", managed=False),
        ]
    )


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (
            operations.RenameField("book", "isbn", "number"),
            [("column", "testapp_book", "isbn", "number")],
        ),
        (
            operations.RenameField("book", "author", "writer"),
            [("column", "testapp_book", "author_id", "writer_id")],
        ),
        (operations.RenameField("book", "code", "reference"), []),  # db_column kept
        (
            operations.RenameField("book", "tags", "labels"),
            [("table", "testapp_book_tags", "testapp_book_tags", "testapp_book_labels")],
        ),
        (operations.RenameField("book", "kept", "held"), []),  # db_table kept
        (
            operations.AlterField(
                "book", "isbn", models.CharField(max_length=13, db_column="number")
            ),
            [("column", "testapp_book", "isbn", "number")],
        ),
        (
            operations.AlterField("book", "code", models.CharField(max_length=5)),
            [("column", "testapp_book", "legacy_code", "code")],
        ),
        (operations.AlterField("book", "isbn", models.CharField(max_length=20)), []),
        (
            operations.RenameModel("Book", "Volume"),
            [
                ("table", "testapp_book", "testapp_book", "testapp_volume"),
                ("table", "testapp_book_tags", "testapp_book_tags", "testapp_volume_tags"),
                ("table", "testapp_book_related", "testapp_book_related", "testapp_volume_related"),
                ("column", "testapp_book_tags", "book_id", "volume_id"),
                ("column", "book_kept", "book_id", "volume_id"),
                ("column", "shelf_books", "book_id", "volume_id"),
            ],
        ),
        (
            operations.RenameModel("Tag", "Label"),
            [
                ("table", "testapp_tag", "testapp_tag", "testapp_label"),
                ("column", "testapp_book_tags", "tag_id", "label_id"),
                ("column", "book_kept", "tag_id", "label_id"),
            ],
        ),
        # Its own table kept (db_table), but many-to-many columns are named after it.
        (
            operations.RenameModel("Shelf", "Rack"),
            [("column", "shelf_books", "shelf_id", "rack_id")],
        ),
        (
            operations.AlterModelTable("Author", "writers"),
            [("table", "testapp_author", "testapp_author", "writers")],
        ),
        (
            operations.AlterModelTable("Shelf", None),
            [
                ("table", "shelf", "shelf", "testapp_shelf"),
                ("table", "shelf_books", "shelf_books", "testapp_shelf_books"),
            ],
        ),
        (operations.AlterModelTable("Shelf", "shelf"), []),
        (operations.RenameModel("Proxy", "Stand-in"), []),
        (operations.AlterModelTable("Outside", "elsewhere"), []),
        # green_makemigrations' own phased renames keep the old name as a view.
        (views.RenameModelWithViews("Author", "Writer", [("testapp_author", None, {})]), []),
        (views.AlterModelTableWithViews("Author", "writers", [("testapp_author", None, {})]), []),
        (operations.AddField("book", "note", models.TextField(null=True)), []),
    ],
    ids=lambda value: value.describe() if hasattr(value, "describe") else "",
)
def test_database_renames(operation: Any, expected: list[tuple[str, ...]]) -> None:
    state = renames_state()
    for outer in (operation, wrapped(operation, 1, "database")):
        renames = rules.database_renames([outer], "testapp", state)
        assert sorted((r.what, r.table, r.old, r.new) for r in renames) == sorted(expected)
        assert all(r.operation is operation for r in renames)
    # Only the database side renames.
    assert rules.database_renames([wrapped(operation, 1, "state")], "testapp", state) == []


def test_database_renames_follow_the_state_through_the_migration() -> None:
    state = renames_state()
    # The field added first, then renamed: the rename sees it.
    added = operations.AddField("book", "note", models.TextField(null=True))
    renamed = operations.RenameField("book", "note", "remark")
    [rename] = rules.database_renames([added, renamed], "testapp", state)
    assert rename.describe() == "column note of table testapp_book becomes remark"
    # A db_column set first keeps the name: no rename.
    kept = operations.AlterField("book", "isbn", models.CharField(max_length=13, db_column="isbn"))
    moved = operations.RenameField("book", "isbn", "number")
    assert rules.database_renames([kept, moved], "testapp", state) == []
    assert "isbn" in state.models["testapp", "book"].fields  # the state given is not changed
    table = rules.database_renames([operations.RenameModel("Author", "Writer")], "testapp", state)
    assert table[0].describe() == "table testapp_author becomes testapp_writer"


# -- touched_keys / keys_conflict / operations_conflict -----------------------


def test_touched_keys_field_operation() -> None:
    operation = operations.AddField("Author", "Age", models.IntegerField(null=True))
    assert rules.touched_keys(operation, "testapp") == {("testapp", "author", "age")}


def test_touched_keys_separate_database_and_state_are_its_operations() -> None:
    rename = operations.RenameModel("Post", "Article")
    table = operations.AlterModelTable("Article", "testapp_post")
    state_only = operations.SeparateDatabaseAndState(state_operations=[rename, table])
    assert rules.touched_keys(state_only, "testapp") == {
        ("testapp", "post", rules.MODEL),
        ("testapp", "article", rules.MODEL),
    }
    assert rules.touched_keys(operations.SeparateDatabaseAndState(), "testapp") == set()


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
