"""GreenMigrationAutodetector on ModelStates: operations, migrations, dependencies, stages.

Modelled on Django's tests/migrations/test_autodetector.py; no database.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.state import ModelState, ProjectState
from django.db.models.fields import NOT_PROVIDED
from django.db.models.functions import Now
from django.utils import timezone

from green_makemigrations.autodetector import Changes, GreenMigrationAutodetector
from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import PhasingError
from green_makemigrations.expressions import RandomUUID
from green_makemigrations.questioner import GreenQuestioner
from green_makemigrations.writer import StagedMigrationWriter

from .helpers import (
    apply_operations,
    describe_changes,
    make_graph,
    make_migration,
    make_project_state,
)

PRE, POST = Stage.PRE_DEPLOY, Stage.POST_DEPLOY


class Status(models.TextChoices):
    DRAFT = "d", "Draft"
    PUBLISHED = "p", "Published"


class Priority(models.IntegerChoices):
    LOW = 1, "Low"
    HIGH = 2, "High"


def make_code() -> str:
    """A callable default the database cannot compute."""
    return "code"


class RecordingQuestioner(GreenQuestioner):
    """GreenQuestioner that records the questions asked and the messages given."""

    def __init__(self, defaults: dict[str, Any] | None = None) -> None:
        super().__init__(defaults={"ask_initial": True, **(defaults or {})})
        self.asked: list[tuple[str, tuple[Any, ...]]] = []
        self.messages: list[str] = []

    def ask_nullable_fallback(
        self, app_label: str, model_name: str, field_name: str, reason: str
    ) -> bool:
        self.asked.append(("ask_nullable_fallback", (app_label, model_name, field_name, reason)))
        return super().ask_nullable_fallback(app_label, model_name, field_name, reason)

    def ask_pending_deployed(self, app_label: str, migration_name: str) -> bool:
        self.asked.append(("ask_pending_deployed", (app_label, migration_name)))
        return super().ask_pending_deployed(app_label, migration_name)

    def inform(self, message: str) -> None:
        self.messages.append(message)

    # Django's MigrationQuestioner answers these with None ("quit") whatever
    # its defaults say; here they answer from defaults, like a user would.
    def ask_not_null_addition(self, field_name: str, model_name: str) -> Any:
        self.asked.append(("ask_not_null_addition", (field_name, model_name)))
        return self.defaults.get("ask_not_null_addition")

    def ask_auto_now_add_addition(self, field_name: str, model_name: str) -> Any:
        self.asked.append(("ask_auto_now_add_addition", (field_name, model_name)))
        return self.defaults.get("ask_auto_now_add_addition", timezone.now)


def author(app_label: str = "testapp") -> ModelState:
    return ModelState(
        app_label,
        "Author",
        [("id", models.AutoField(primary_key=True)), ("name", models.CharField(max_length=200))],
    )


def book(
    *fields: tuple[str, models.Field[Any, Any]],
    app_label: str = "testapp",
    options: dict[str, Any] | None = None,
) -> ModelState:
    return ModelState(
        app_label,
        "Book",
        [("id", models.AutoField(primary_key=True)), *fields],
        options=options or {},
    )


def detect(
    before: list[ModelState] | ProjectState,
    after: list[ModelState] | ProjectState,
    questioner: GreenQuestioner | None = None,
) -> Changes:
    """Return the autodetector's changes, as in Django's get_changes()."""
    if not isinstance(before, ProjectState):
        before = make_project_state(before)
    if not isinstance(after, ProjectState):
        after = make_project_state(after)
    return GreenMigrationAutodetector(before, after, questioner)._detect_changes()


def op_types(migration: Migration) -> list[str]:
    return [type(operation).__name__ for operation in migration.operations]


def assert_split(changes: Changes, app_label: str, pre: list[str], post: list[str]) -> None:
    """Assert app_label has a pre-deploy migration with ops pre, then a post-deploy one."""
    described = describe_changes(changes)
    migrations = changes.get(app_label, [])
    expected = [(PRE, pre)] if pre else []
    expected += [(POST, post)] if post else []
    actual = [(getattr(m, "stage", None), op_types(m)) for m in migrations]
    assert actual == expected, described
    if pre and post:
        assert migrations[1].dependencies == [(app_label, migrations[0].name)], described


def prep_field(migration: Migration, field_name: str) -> models.Field[Any, Any]:
    """Return the field of the prep AlterField of field_name in migration."""
    found = [
        op.field
        for op in migration.operations
        if isinstance(op, operations.AlterField) and op.name == field_name
    ]
    assert len(found) == 1, migration.operations
    return found[0]


def kwargs_of(field: models.Field[Any, Any]) -> dict[str, Any]:
    return field.deconstruct()[3]


# -- removed fields ---------------------------------------------------------


def test_remove_nullable_field_has_no_prep() -> None:
    questioner = RecordingQuestioner()
    changes = detect(
        [book(("subtitle", models.CharField(max_length=50, null=True)))],
        [book()],
        questioner,
    )
    assert_split(changes, "testapp", pre=[], post=["RemoveField"])
    removal = changes["testapp"][0].operations[0]
    assert (removal.model_name, removal.name) == ("book", "subtitle")
    assert changes["testapp"][0].dependencies == []
    assert questioner.asked == []


@pytest.mark.parametrize(
    "field",
    [
        models.IntegerField(),
        models.CharField(max_length=37),
        models.DecimalField(max_digits=7, decimal_places=3, verbose_name="price"),
    ],
    ids=["integer", "char", "decimal"],
)
def test_remove_not_null_field_without_default_becomes_nullable(
    field: models.Field[Any, Any],
) -> None:
    questioner = RecordingQuestioner()
    changes = detect([book(("legacy", field))], [book()], questioner)
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "legacy")
    # Same column type: only null changes.
    assert type(prep) is type(field)
    assert kwargs_of(prep) == {**kwargs_of(field), "null": True}
    assert prep.db_default is NOT_PROVIDED
    assert [name for name, _args in questioner.asked] == ["ask_nullable_fallback"]
    assert questioner.asked[0][1][:3] == ("testapp", "book", "legacy")
    removal = changes["testapp"][1].operations[0]
    assert (removal.model_name, removal.name) == ("book", "legacy")


@pytest.mark.parametrize(
    ("field", "db_default"),
    [
        (models.IntegerField(default=3), 3),
        (models.CharField(max_length=10, default="draft"), "draft"),
        (models.BooleanField(default=False), False),
    ],
    ids=["integer", "char", "boolean"],
)
def test_remove_field_with_literal_default_gets_db_default(
    field: models.Field[Any, Any], db_default: Any
) -> None:
    questioner = RecordingQuestioner()
    changes = detect([book(("legacy", field))], [book()], questioner)
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "legacy")
    assert type(prep) is type(field)
    assert prep.null is False
    assert prep.db_default == db_default
    assert type(prep.db_default) is type(db_default)
    assert kwargs_of(prep) == {**kwargs_of(field), "db_default": db_default}
    assert questioner.asked == []


@pytest.mark.parametrize(
    ("field", "db_default"),
    [
        (models.CharField(max_length=1, choices=Status.choices, default=Status.DRAFT), "d"),
        (models.IntegerField(choices=Priority.choices, default=Priority.HIGH), 2),
    ],
    ids=["text-choices", "integer-choices"],
)
def test_remove_field_with_enum_default_gets_plain_db_default(
    field: models.Field[Any, Any], db_default: Any
) -> None:
    changes = detect([book(("status", field))], [book()])
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "status")
    assert prep.db_default == db_default
    # The plain value, not the enum member: it is what the migration file writes.
    assert type(prep.db_default) is type(db_default)
    assert prep.null is False


def test_remove_field_with_callable_default_asks_and_becomes_nullable() -> None:
    questioner = RecordingQuestioner()
    field = models.CharField(max_length=8, default=make_code)
    changes = detect([book(("token", field))], [book()], questioner)
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "token")
    assert isinstance(prep, models.CharField)
    assert prep.null is True
    assert prep.db_default is NOT_PROVIDED
    assert prep.default is make_code
    assert len(questioner.asked) == 1
    name, (app_label, model_name, field_name, reason) = questioner.asked[0]
    assert (name, app_label, model_name, field_name) == (
        "ask_nullable_fallback",
        "testapp",
        "book",
        "token",
    )
    assert "make_code" in reason and "nullable" in reason


def test_remove_field_with_callable_default_refused_fallback_raises() -> None:
    questioner = RecordingQuestioner({"ask_nullable_fallback": False})
    field = models.CharField(max_length=8, default=make_code)
    with pytest.raises(PhasingError) as error:
        detect([book(("token", field))], [book()], questioner)
    message = str(error.value)
    assert "testapp.book.token" in message
    assert "default" in message


def test_remove_uuid4_field_gets_random_uuid_keeping_not_null() -> None:
    questioner = RecordingQuestioner()
    field = models.UUIDField(default=uuid.uuid4, unique=True)
    changes = detect([book(("token", field))], [book()], questioner)
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "token")
    assert isinstance(prep, models.UUIDField)
    assert prep.null is False
    assert prep.db_default == RandomUUID()
    assert kwargs_of(prep) == {**kwargs_of(field), "db_default": RandomUUID()}
    assert questioner.asked == []


@pytest.mark.parametrize(
    "field",
    [
        models.DateTimeField(auto_now=True),
        models.DateTimeField(auto_now_add=True),
        models.DateTimeField(default=timezone.now),
    ],
    ids=["auto_now", "auto_now_add", "default-timezone-now"],
)
def test_remove_datetime_now_field_gets_db_default_now(field: models.Field[Any, Any]) -> None:
    questioner = RecordingQuestioner()
    changes = detect([book(("stamp", field))], [book()], questioner)
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "stamp")
    assert isinstance(prep, models.DateTimeField)
    assert prep.db_default == Now()
    assert prep.null is False
    assert kwargs_of(prep) == {**kwargs_of(field), "db_default": Now()}
    assert questioner.asked == []


def test_remove_date_auto_now_falls_back_to_nullable() -> None:
    questioner = RecordingQuestioner()
    field = models.DateField(auto_now=True)
    changes = detect([book(("day", field))], [book()], questioner)
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "day")
    assert type(prep) is models.DateField
    assert prep.null is True
    assert prep.db_default is NOT_PROVIDED
    assert kwargs_of(prep) == {**kwargs_of(field), "null": True}
    assert [name for name, _args in questioner.asked] == ["ask_nullable_fallback"]


@pytest.mark.parametrize(
    ("field_class", "on_delete"),
    [(models.ForeignKey, models.PROTECT), (models.OneToOneField, models.CASCADE)],
    ids=["foreign-key", "one-to-one"],
)
def test_remove_not_null_relation_keeps_relation_nullable(
    field_class: type[models.ForeignKey[Any, Any]], on_delete: Any
) -> None:
    field = field_class(
        "testapp.Author", on_delete, db_constraint=False, related_name="+", db_column="writer"
    )
    changes = detect([author(), book(("author", field))], [author(), book()])
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "author")
    assert type(prep) is field_class
    assert prep.null is True
    assert prep.remote_field.on_delete is on_delete
    assert prep.db_constraint is False
    assert prep.db_column == "writer"
    assert kwargs_of(prep)["to"] == "testapp.author"
    assert kwargs_of(prep) == {**kwargs_of(field), "null": True}


def test_remove_many_to_many_has_no_prep() -> None:
    questioner = RecordingQuestioner()
    changes = detect(
        [author(), book(("authors", models.ManyToManyField("testapp.Author")))],
        [author(), book()],
        questioner,
    )
    assert_split(changes, "testapp", pre=[], post=["RemoveField"])
    assert changes["testapp"][0].operations[0].name == "authors"
    assert questioner.asked == []


def test_remove_field_with_db_column_keeps_db_column() -> None:
    field = models.CharField(max_length=10, db_column="legacy_code")
    changes = detect([book(("code", field))], [book()])
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "code")
    assert prep.db_column == "legacy_code"
    assert prep.max_length == 10
    assert prep.null is True


def test_remove_indexed_field_removes_index_before_deploy() -> None:
    before = book(
        ("title", models.CharField(max_length=200)),
        options={"indexes": [models.Index(fields=["title"], name="book_title_idx")]},
    )
    changes = detect([before], [book()])
    # The index goes first, outside a transaction, in a migration of its own.
    described = describe_changes(changes)
    drop_index, prep, post = changes["testapp"]
    assert [drop_index.stage, prep.stage, post.stage] == [PRE, PRE, POST], described
    assert op_types(drop_index) == ["RemoveIndexConcurrently"], described
    assert drop_index.atomic is False
    assert drop_index.operations[0].name == "book_title_idx"
    assert op_types(prep) == ["AlterField"] and prep.atomic is True
    assert prep_field(prep, "title").null is True
    assert prep.dependencies == [("testapp", drop_index.name)]
    assert op_types(post) == ["RemoveField"] and post.atomic is True
    assert post.operations[0].name == "title"


def test_remove_field_in_unique_together() -> None:
    before = book(
        ("title", models.CharField(max_length=200)),
        ("edition", models.IntegerField(null=True)),
        options={"unique_together": {("title", "edition")}},
    )
    after = book(("title", models.CharField(max_length=200)))
    changes = detect([before], [after])
    assert_split(changes, "testapp", pre=["AlterUniqueTogether"], post=["RemoveField"])
    pre, post = changes["testapp"]
    assert pre.operations[0].unique_together == set()
    assert post.operations[0].name == "edition"


def test_remove_field_in_constraints() -> None:
    before = book(
        ("number", models.IntegerField()),
        options={
            "constraints": [
                models.CheckConstraint(condition=models.Q(number__gte=0), name="number_gte_0"),
                models.UniqueConstraint(fields=["number"], name="number_unique"),
            ]
        },
    )
    changes = detect([before], [book()])
    assert_split(
        changes,
        "testapp",
        pre=["RemoveConstraint", "RemoveConstraint", "AlterField"],
        post=["RemoveField"],
    )
    pre, post = changes["testapp"]
    assert {op.name for op in pre.operations[:2]} == {"number_gte_0", "number_unique"}
    assert post.operations[0].name == "number"


def test_remove_field_of_model_with_custom_db_table() -> None:
    options = {"db_table": "legacy_books"}
    before = book(("pages", models.IntegerField()), options=options)
    after = book(options=options)
    changes = detect([before], [after])
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    pre, post = changes["testapp"]
    # Between the stages: same table, the column still there and nullable.
    between = apply_operations(make_project_state([before]), "testapp", pre.operations)
    model_state = between.models["testapp", "book"]
    assert model_state.options["db_table"] == "legacy_books"
    assert model_state.fields["pages"].null is True
    final = apply_operations(between, "testapp", post.operations)
    assert list(final.models["testapp", "book"].fields) == ["id"]
    assert final.models["testapp", "book"].options["db_table"] == "legacy_books"


def test_delete_model_with_custom_db_table_is_post_deploy() -> None:
    before = book(("pages", models.IntegerField()), options={"db_table": "legacy_books"})
    changes = detect([author(), before], [author()])
    assert_split(changes, "testapp", pre=[], post=["DeleteModel"])


# -- deleted models ---------------------------------------------------------


class UnoptimizedAutodetector(GreenMigrationAutodetector):
    """Keep every generated operation: Django's optimizer folds companions into DeleteModel."""

    def _optimize_migrations(self) -> None:
        pass


def deleted_book_states() -> tuple[list[ModelState], list[ModelState]]:
    before = book(
        ("author", models.ForeignKey("testapp.Author", models.CASCADE)),
        ("title", models.CharField(max_length=200)),
        options={"unique_together": {("author", "title")}},
    )
    return [author(), before], [author()]


def test_delete_model_is_post_deploy() -> None:
    before, after = deleted_book_states()
    changes = detect(before, after)
    assert_split(changes, "testapp", pre=[], post=["DeleteModel"])
    assert changes["testapp"][0].operations[0].name == "Book"


def test_delete_model_companions_go_with_it() -> None:
    before, after = deleted_book_states()
    changes = UnoptimizedAutodetector(
        make_project_state(before), make_project_state(after), GreenQuestioner()
    )._detect_changes()
    assert_split(
        changes, "testapp", pre=[], post=["AlterUniqueTogether", "RemoveField", "DeleteModel"]
    )


def test_delete_model_preps_foreign_keys_pointing_at_it() -> None:
    before = [
        author(),
        book(("author", models.ForeignKey("testapp.Author", models.CASCADE))),
    ]
    changes = detect(before, [book()])
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField", "DeleteModel"])
    pre, post = changes["testapp"]
    prep = prep_field(pre, "author")
    assert isinstance(prep, models.ForeignKey)
    assert prep.null is True
    assert prep.remote_field.model.lower() == "testapp.author"
    assert post.operations[0].name == "author"
    assert post.operations[1].name == "Author"


def test_delete_model_referenced_from_another_app() -> None:
    before = [
        author("testapp"),
        book(("author", models.ForeignKey("testapp.Author", models.CASCADE)), app_label="other"),
    ]
    changes = detect(before, [book(app_label="other")])
    described = describe_changes(changes)
    assert_split(changes, "other", pre=["AlterField"], post=["RemoveField"])
    assert_split(changes, "testapp", pre=[], post=["DeleteModel"])
    other_post = changes["other"][1]
    # The table goes after the column pointing at it, both post-deploy.
    assert changes["testapp"][0].dependencies == [("other", other_post.name)], described


def test_post_deploy_depends_on_other_apps_pre_deploy_work() -> None:
    """Deleting a model needs the FK moved away first, which is pre-deploy in another app."""
    publisher = ModelState("other", "Publisher", [("id", models.AutoField(primary_key=True))])
    before = [
        author("testapp"),
        publisher,
        book(("author", models.ForeignKey("testapp.Author", models.CASCADE)), app_label="other"),
    ]
    after = [
        publisher,
        book(("author", models.ForeignKey("other.Publisher", models.CASCADE)), app_label="other"),
    ]
    changes = detect(before, after)
    described = describe_changes(changes)
    assert_split(changes, "other", pre=["AlterField"], post=[])
    assert_split(changes, "testapp", pre=[], post=["DeleteModel"])
    assert changes["testapp"][0].dependencies == [("other", changes["other"][0].name)], described


def test_several_removals_make_one_migration_per_stage() -> None:
    before = book(
        ("a", models.IntegerField()),
        ("b", models.CharField(max_length=5, default="x")),
        ("c", models.TextField(null=True)),
        ("d", models.DateTimeField(auto_now_add=True)),
        ("e", models.IntegerField(db_index=True)),
        options={"indexes": [models.Index(fields=["a"], name="book_a_idx")]},
    )
    changes = detect([before], [book()])
    # One migration per stage, but for the index: it is dropped outside a
    # transaction, in a migration of its own.
    drop_index, pre, post = changes["testapp"]
    assert (drop_index.stage, pre.stage, post.stage) == (PRE, PRE, POST), describe_changes(changes)
    assert op_types(drop_index) == ["RemoveIndexConcurrently"]
    assert drop_index.operations[0].name == "book_a_idx"
    assert (drop_index.atomic, pre.atomic, post.atomic) == (False, True, True)
    assert op_types(pre) == ["AlterField"] * 4
    assert sorted(op.name for op in pre.operations) == ["a", "b", "d", "e"]
    assert pre.dependencies == [("testapp", drop_index.name)]
    assert op_types(post) == ["RemoveField"] * 5
    assert sorted(op.name for op in post.operations) == ["a", "b", "c", "d", "e"]
    assert post.dependencies == [("testapp", pre.name)]


def test_changes_that_are_not_removals_are_pre_deploy_only() -> None:
    after = [author(), book(("subtitle", models.CharField(max_length=50, null=True)))]
    changes = detect([book()], after)
    assert_split(changes, "testapp", pre=["CreateModel", "AddField"], post=[])


def test_foreign_key_replaced_by_many_to_many_cannot_be_phased() -> None:
    before = [author(), book(("author", models.ForeignKey("testapp.Author", models.CASCADE)))]
    after = [author(), book(("author", models.ManyToManyField("testapp.Author")))]
    with pytest.raises(PhasingError) as error:
        detect(before, after)
    message = str(error.value)
    assert "field author to book" in message
    assert "Remove field author from book" in message
    assert "two releases" in message


# -- added fields -------------------------------------------------------------


def added_field(migration: Migration, operation_type: type[Any], name: str) -> Any:
    """Return the field of the one operation_type operation on name in migration."""
    found = [
        op.field for op in migration.operations if type(op) is operation_type and op.name == name
    ]
    assert len(found) == 1, migration.operations
    return found[0]


def assert_phased_addition(
    changes: Changes,
    before: list[ModelState],
    name: str,
    db_default: Any,
    *,
    preserve_default: bool = True,
) -> tuple[models.Field[Any, Any], models.Field[Any, Any]]:
    """Assert Book.name is added with db_default pre-deploy and dropped back post-deploy.

    Returns the pre-deploy AddField's field and the post-deploy AlterField's.
    """
    described = describe_changes(changes)
    pre, post = changes["testapp"]
    # A foreign key is added with a constraint validated without a long lock, an
    # indexed (unique) column with its index built concurrently.
    added_kind = "AddForeignKeyNotValid" if name == "author" else "AddField"
    if name != "author" and changes["testapp"][0].operations[0].field.unique:
        added_kind = "AddFieldIndexConcurrently"
    assert_split(changes, "testapp", pre=[added_kind], post=["AlterField"])
    assert pre.dependencies == [], described
    add = pre.operations[0]
    assert (add.model_name, add.name, add.preserve_default) == ("book", name, preserve_default)
    expanded = added_field(pre, type(pre.operations[0]), name)
    assert isinstance(pre.operations[0], operations.AddField)
    assert expanded.db_default == db_default
    assert type(expanded.db_default) is type(db_default)
    assert expanded.null is False
    final = added_field(post, operations.AlterField, name)
    assert final.db_default is NOT_PROVIDED
    # The post-deploy field is the model's: the pre-deploy one differs only by db_default
    # (and by the one-off default, which the state does not keep).
    expected = {**kwargs_of(final), "db_default": db_default}
    if not preserve_default:
        expected["default"] = expanded.default
    assert kwargs_of(expanded) == expected
    # Between the stages the state has the database default; after them, none.
    between = apply_operations(make_project_state(before), "testapp", pre.operations)
    assert between.models["testapp", "book"].fields[name].db_default == db_default
    after = apply_operations(between, "testapp", post.operations)
    state_field = after.models["testapp", "book"].fields[name]
    assert state_field.deconstruct()[1:] == final.deconstruct()[1:]
    return expanded, final


@pytest.mark.parametrize(
    ("field", "db_default"),
    [
        (models.IntegerField(default=7), 7),
        (models.CharField(max_length=1, choices=Status.choices, default=Status.PUBLISHED), "p"),
        (models.IntegerField(choices=Priority.choices, default=Priority.HIGH), 2),
        (models.DateTimeField(default=timezone.now), Now()),
        (models.DateTimeField(auto_now=True), Now()),
        (models.UUIDField(default=uuid.uuid4, unique=True), RandomUUID()),
        (models.CharField(max_length=20, blank=True), ""),
        (models.TextField(blank=True), ""),
    ],
    ids=[
        "literal",
        "text-choices",
        "integer-choices",
        "timezone-now",
        "auto_now",
        "uuid4",
        "blank-char",
        "blank-text",
    ],
)
def test_add_not_null_field_gets_db_default_until_post_deploy(
    field: models.Field[Any, Any], db_default: Any
) -> None:
    questioner = RecordingQuestioner()
    before = [book()]
    changes = detect(before, [book(("extra", field))], questioner)
    _expanded, final = assert_phased_addition(changes, before, "extra", db_default)
    assert kwargs_of(final) == kwargs_of(field)
    assert questioner.asked == []  # Django had a default: nothing to ask


def test_add_auto_now_add_field_gets_now_whatever_the_one_off_default() -> None:
    """Django asks for a one-off default (timezone.now); the database computes Now()."""
    questioner = RecordingQuestioner()
    field = models.DateTimeField(auto_now_add=True)
    before = [book()]
    changes = detect(before, [book(("created", field))], questioner)
    expanded, final = assert_phased_addition(
        changes, before, "created", Now(), preserve_default=False
    )
    assert expanded.default is timezone.now
    assert kwargs_of(final) == kwargs_of(field)
    assert questioner.asked == [("ask_auto_now_add_addition", ("created", "book"))]


def test_add_field_with_one_off_default_uses_it_as_db_default() -> None:
    questioner = RecordingQuestioner({"ask_not_null_addition": 5})
    before = [book()]
    changes = detect(before, [book(("pages", models.IntegerField()))], questioner)
    expanded, final = assert_phased_addition(changes, before, "pages", 5, preserve_default=False)
    assert expanded.default == 5
    assert kwargs_of(final) == {}
    assert questioner.asked == [("ask_not_null_addition", ("pages", "book"))]


def test_add_not_null_foreign_key_with_one_off_default() -> None:
    questioner = RecordingQuestioner({"ask_not_null_addition": 1})
    field = models.ForeignKey("testapp.Author", models.PROTECT, related_name="books")
    before = [author(), book()]
    changes = detect(before, [author(), book(("author", field))], questioner)
    expanded, final = assert_phased_addition(changes, before, "author", 1, preserve_default=False)
    assert isinstance(expanded, models.ForeignKey) and isinstance(final, models.ForeignKey)
    assert kwargs_of(expanded)["to"] == kwargs_of(final)["to"] == "testapp.author"
    assert expanded.remote_field.on_delete is final.remote_field.on_delete is models.PROTECT
    assert final.db_default is NOT_PROVIDED and final.default is NOT_PROVIDED


def test_add_foreign_key_to_another_app_depends_on_it() -> None:
    questioner = RecordingQuestioner({"ask_not_null_addition": 1})
    field = models.ForeignKey("other.Author", models.CASCADE)
    before = [author("other"), book()]
    changes = detect(before, [author("other"), book(("author", field))], questioner)
    described = describe_changes(changes)
    pre, post = changes["testapp"]
    assert [(pre.stage, op_types(pre)), (post.stage, op_types(post))] == [
        (PRE, ["AddForeignKeyNotValid"]),
        (POST, ["AlterField"]),
    ], described
    assert pre.dependencies == [("other", "__first__")], described
    assert post.dependencies == [("testapp", pre.name)], described
    assert "other" not in changes


@pytest.mark.parametrize(
    "field",
    [
        models.IntegerField(null=True),
        models.CharField(max_length=10, null=True, default=make_code),
        models.IntegerField(db_default=3),
    ],
    ids=["nullable", "nullable-callable-default", "db-default"],
)
def test_add_field_the_old_release_can_ignore_needs_no_post_deploy(
    field: models.Field[Any, Any],
) -> None:
    questioner = RecordingQuestioner()
    changes = detect([book()], [book(("extra", field))], questioner)
    assert_split(changes, "testapp", pre=["AddField"], post=[])
    added = added_field(changes["testapp"][0], operations.AddField, "extra")
    assert kwargs_of(added) == kwargs_of(field)
    assert questioner.asked == []


def test_add_many_to_many_needs_no_post_deploy() -> None:
    before = [author(), book()]
    after = [author(), book(("authors", models.ManyToManyField("testapp.Author")))]
    changes = detect(before, after)
    assert_split(changes, "testapp", pre=["AddField"], post=[])
    assert added_field(changes["testapp"][0], operations.AddField, "authors").db_default is (
        NOT_PROVIDED
    )


def test_add_field_with_custom_callable_default_raises() -> None:
    field = models.CharField(max_length=8, default=make_code)
    with pytest.raises(PhasingError) as error:
        detect([book()], [book(("code", field))])
    message = str(error.value)
    assert "testapp.book.code" in message
    assert "make_code" in message and "cannot be computed by the database" in message
    assert "db_default=" in message and "null=True" in message


def test_add_field_without_one_off_default_raises() -> None:
    questioner = RecordingQuestioner()  # no one-off default: Django's "quit" (None)
    with pytest.raises(PhasingError) as error:
        detect([book()], [book(("pages", models.IntegerField()))], questioner)
    message = str(error.value)
    assert "testapp.book.pages" in message and "it has no default" in message
    assert questioner.asked == [("ask_not_null_addition", ("pages", "book"))]


def test_additions_and_removals_make_one_migration_per_stage() -> None:
    before = [book(("old", models.IntegerField()))]
    after = [book(("pages", models.IntegerField(default=7)), ("note", models.TextField(null=True)))]
    changes = detect(before, after)
    pre, post = changes["testapp"]
    described = describe_changes(changes)
    assert (pre.stage, post.stage) == (PRE, POST), described
    assert sorted((type(op).__name__, op.name) for op in pre.operations) == [
        ("AddField", "note"),
        ("AddField", "pages"),
        ("AlterField", "old"),
    ], described
    assert sorted((type(op).__name__, op.name) for op in post.operations) == [
        ("AlterField", "pages"),
        ("RemoveField", "old"),
    ], described
    assert post.dependencies == [("testapp", pre.name)]


def test_random_uuid_deconstructs_to_its_permanent_path() -> None:
    path, args, kwargs = RandomUUID().deconstruct()
    assert (path, args, kwargs) == ("green_makemigrations.expressions.RandomUUID", (), {})


def test_phased_uuid4_addition_round_trips_through_the_writer(tmp_path: Path) -> None:
    graph = make_graph([initial_migration()])
    after = book(
        ("title", models.CharField(max_length=200)),
        ("old", models.IntegerField()),
        ("token", models.UUIDField(default=uuid.uuid4, unique=True)),
    )
    migrations = graph_changes(graph, [after])["testapp"]
    assert [(m.name, m.stage) for m in migrations] == [
        ("0002_book_token", PRE),
        ("0003_alter_book_token", POST),
    ]
    for original in migrations:
        text = StagedMigrationWriter(original, include_header=False).as_string()
        path = tmp_path / f"{original.name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"written_{original.name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded = module.Migration(original.name, "testapp")
        assert loaded.stage is original.stage
        assert [tuple(d) for d in loaded.dependencies] == [tuple(d) for d in original.dependencies]
        assert len(loaded.operations) == len(original.operations) == 1
        written, expected = loaded.operations[0], original.operations[0]
        assert type(written) is type(expected)
        assert written.field.deconstruct()[1:] == expected.field.deconstruct()[1:]
    pre_text = (tmp_path / "0002_book_token.py").read_text()
    assert "db_default=green_makemigrations.expressions.RandomUUID()" in pre_text
    assert "import green_makemigrations.expressions\n" in pre_text
    post_text = (tmp_path / "0003_alter_book_token.py").read_text()
    assert "RandomUUID" not in post_text and "db_default" not in post_text


# -- placing in the graph (changes()) -----------------------------------------

INITIAL_FIELDS: list[tuple[str, models.Field[Any, Any]]] = [
    ("id", models.AutoField(primary_key=True)),
    ("title", models.CharField(max_length=200)),
    ("old", models.IntegerField()),
]


def initial_migration(*extra: tuple[str, models.Field[Any, Any]]) -> Migration:
    return make_migration(
        "testapp",
        "0001_initial",
        [operations.CreateModel("Book", fields=[*INITIAL_FIELDS, *extra])],
        stage=PRE,
    )


def pending_drop_graph(initial: Migration | None = None) -> MigrationGraph:
    """Return testapp: 0001_initial, 0002 prep (pre-deploy), 0003 drop (post-deploy, leaf)."""
    return make_graph(
        [
            initial or initial_migration(),
            make_migration(
                "testapp",
                "0002_prepare_remove_book_old",
                [operations.AlterField("book", "old", models.IntegerField(null=True))],
                [("testapp", "0001_initial")],
                stage=PRE,
            ),
            make_migration(
                "testapp",
                "0003_remove_book_old",
                [operations.RemoveField("book", "old")],
                [("testapp", "0002_prepare_remove_book_old")],
                stage=POST,
            ),
        ]
    )


def graph_changes(
    graph: MigrationGraph,
    after: list[ModelState],
    questioner: GreenQuestioner | None = None,
    migration_name: str | None = None,
) -> Changes:
    return GreenMigrationAutodetector(
        graph.make_state(), make_project_state(after), questioner or RecordingQuestioner()
    ).changes(graph=graph, migration_name=migration_name)


def names_and_dependencies(changes: Changes, app_label: str) -> list[tuple[str, Any, list[Any]]]:
    return [
        (m.name, getattr(m, "stage", None), sorted(m.dependencies))
        for m in changes.get(app_label, [])
    ]


def test_prep_only_migration_is_named_after_its_drop() -> None:
    graph = make_graph([initial_migration()])
    changes = graph_changes(graph, [book(("title", models.CharField(max_length=200)))])
    assert names_and_dependencies(changes, "testapp") == [
        ("0002_prepare_remove_book_old", PRE, [("testapp", "0001_initial")]),
        ("0003_remove_book_old", POST, [("testapp", "0002_prepare_remove_book_old")]),
    ]


def test_pre_migration_with_other_operations_keeps_djangos_name() -> None:
    graph = make_graph([initial_migration()])
    after = book(
        ("title", models.CharField(max_length=200)),
        ("isbn", models.CharField(max_length=13, null=True)),
    )
    changes = graph_changes(graph, [after])
    names = [m.name for m in changes["testapp"]]
    assert not names[0].startswith("0002_prepare"), names
    assert names[1] == "0003_remove_book_old"


def test_migration_name_option_is_kept() -> None:
    graph = make_graph([initial_migration()])
    changes = graph_changes(
        graph, [book(("title", models.CharField(max_length=200)))], migration_name="drop_old"
    )
    assert [m.name for m in changes["testapp"]] == ["0002_drop_old", "0003_drop_old"]


def after_pending_drop(*extra: tuple[str, models.Field[Any, Any]]) -> list[ModelState]:
    return [book(("title", models.CharField(max_length=200)), *extra)]


def test_new_pre_deploy_migration_is_placed_beside_pending_drop() -> None:
    questioner = RecordingQuestioner()
    graph = pending_drop_graph()
    changes = graph_changes(
        graph,
        after_pending_drop(("subtitle", models.CharField(max_length=50, null=True))),
        questioner,
    )
    assert names_and_dependencies(changes, "testapp") == [
        ("0004_book_subtitle", PRE, [("testapp", "0002_prepare_remove_book_old")]),
        (
            "0005_post_deploy_merge",
            POST,
            [("testapp", "0003_remove_book_old"), ("testapp", "0004_book_subtitle")],
        ),
    ]
    assert changes["testapp"][1].operations == []
    assert ("ask_pending_deployed", ("testapp", "0003_remove_book_old")) in questioner.asked
    assert any("0005_post_deploy_merge" in message for message in questioner.messages)


def test_post_deploy_migration_of_the_batch_joins_the_branches() -> None:
    graph = pending_drop_graph()
    changes = graph_changes(
        graph,
        [book(("subtitle", models.CharField(max_length=50, null=True)))],
    )
    described = describe_changes(changes)
    migrations = changes["testapp"]
    assert [(m.stage, op_types(m)) for m in migrations] == [
        (PRE, ["AlterField", "AddField"]),
        (POST, ["RemoveField"]),
    ], described
    pre, post = migrations
    assert pre.dependencies == [("testapp", "0002_prepare_remove_book_old")], described
    assert sorted(post.dependencies) == [
        ("testapp", "0003_remove_book_old"),
        ("testapp", pre.name),
    ], described


def test_conflicting_pre_deploy_migration_stays_after_pending_drop() -> None:
    questioner = RecordingQuestioner()
    graph = pending_drop_graph()
    # Adding "old" back touches the field the pending migration drops.
    changes = graph_changes(
        graph, after_pending_drop(("old", models.IntegerField(null=True))), questioner
    )
    assert names_and_dependencies(changes, "testapp") == [
        ("0004_book_old", PRE, [("testapp", "0003_remove_book_old")]),
    ]
    assert any("testapp.0003_remove_book_old" in message for message in questioner.messages)


def test_pending_drop_answered_deployed_keeps_linear_history() -> None:
    questioner = RecordingQuestioner({"ask_pending_deployed": True})
    graph = pending_drop_graph()
    changes = graph_changes(
        graph,
        after_pending_drop(("subtitle", models.CharField(max_length=50, null=True))),
        questioner,
    )
    assert names_and_dependencies(changes, "testapp") == [
        ("0004_book_subtitle", PRE, [("testapp", "0003_remove_book_old")]),
    ]
    assert questioner.asked == [("ask_pending_deployed", ("testapp", "0003_remove_book_old"))]


def test_new_post_deploy_migration_follows_pending_drop() -> None:
    note = ("note", models.TextField(null=True))
    graph = pending_drop_graph(initial_migration(note))
    changes = graph_changes(graph, after_pending_drop())
    assert names_and_dependencies(changes, "testapp") == [
        ("0004_remove_book_note", POST, [("testapp", "0003_remove_book_old")]),
    ]


def test_cross_app_changes_renamed_in_graph() -> None:
    graph = make_graph(
        [
            make_migration(
                "testapp",
                "0001_initial",
                [operations.CreateModel("Author", fields=list(author().fields.items()))],
                stage=PRE,
            ),
            make_migration(
                "other",
                "0001_initial",
                [
                    operations.CreateModel(
                        "Book",
                        fields=[
                            ("id", models.AutoField(primary_key=True)),
                            ("author", models.ForeignKey("testapp.Author", models.CASCADE)),
                        ],
                    )
                ],
                [("testapp", "0001_initial")],
                stage=PRE,
            ),
        ]
    )
    changes = graph_changes(graph, [book(app_label="other")])
    assert names_and_dependencies(changes, "other") == [
        ("0002_prepare_remove_book_author", PRE, [("other", "0001_initial")]),
        ("0003_remove_book_author", POST, [("other", "0002_prepare_remove_book_author")]),
    ]
    assert names_and_dependencies(changes, "testapp") == [
        (
            "0002_delete_author",
            POST,
            [("other", "0003_remove_book_author"), ("testapp", "0001_initial")],
        ),
    ]


# -- placing added fields in the graph ------------------------------------------


def test_phased_addition_is_named_by_django() -> None:
    graph = make_graph([initial_migration()])
    after = book(
        ("title", models.CharField(max_length=200)),
        ("old", models.IntegerField()),
        ("pages", models.IntegerField(default=7)),
    )
    changes = graph_changes(graph, [after])
    assert names_and_dependencies(changes, "testapp") == [
        ("0002_book_pages", PRE, [("testapp", "0001_initial")]),
        ("0003_alter_book_pages", POST, [("testapp", "0002_book_pages")]),
    ]


def test_phased_addition_beside_pending_drop_joins_the_branches() -> None:
    """The addition's pre-deploy half skips the pending drop; its post-deploy half joins it."""
    questioner = RecordingQuestioner()
    graph = pending_drop_graph()
    changes = graph_changes(
        graph, after_pending_drop(("pages", models.IntegerField(default=7))), questioner
    )
    assert names_and_dependencies(changes, "testapp") == [
        ("0004_book_pages", PRE, [("testapp", "0002_prepare_remove_book_old")]),
        (
            "0005_alter_book_pages",
            POST,
            [("testapp", "0003_remove_book_old"), ("testapp", "0004_book_pages")],
        ),
    ]
    assert ("ask_pending_deployed", ("testapp", "0003_remove_book_old")) in questioner.asked


def test_migrations_of_ordinary_operations_stay_atomic() -> None:
    graph = make_graph([initial_migration()])
    after = book(
        ("title", models.CharField(max_length=200)), ("pages", models.IntegerField(default=7))
    )
    migrations = graph_changes(graph, [after])["testapp"]
    assert [op_types(m) for m in migrations] == [
        ["AlterField", "AddField"],
        ["RemoveField", "AlterField"],
    ], describe_changes({"testapp": migrations})
    assert [m.atomic for m in migrations] == [True, True]
