"""GreenMigrationAutodetector on ModelStates: operations, migrations, dependencies, stages.

Modelled on Django's tests/migrations/test_autodetector.py; no database.
"""

from __future__ import annotations

import uuid
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
from green_makemigrations.questioner import GreenQuestioner

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
    field = models.UUIDField(default=uuid.uuid4)
    changes = detect([book(("token", field))], [book()], questioner)
    assert_split(changes, "testapp", pre=["AlterField"], post=["RemoveField"])
    prep = prep_field(changes["testapp"][0], "token")
    assert isinstance(prep, models.UUIDField)
    assert prep.null is True
    assert prep.db_default is NOT_PROVIDED
    assert prep.default is uuid.uuid4
    assert len(questioner.asked) == 1
    name, (app_label, model_name, field_name, reason) = questioner.asked[0]
    assert (name, app_label, model_name, field_name) == (
        "ask_nullable_fallback",
        "testapp",
        "book",
        "token",
    )
    assert "uuid4" in reason and "nullable" in reason


def test_remove_field_with_callable_default_refused_fallback_raises() -> None:
    questioner = RecordingQuestioner({"ask_nullable_fallback": False})
    with pytest.raises(PhasingError) as error:
        detect([book(("token", models.UUIDField(default=uuid.uuid4)))], [book()], questioner)
    message = str(error.value)
    assert "testapp.book.token" in message
    assert "default" in message


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
    assert_split(changes, "testapp", pre=["RemoveIndex", "AlterField"], post=["RemoveField"])
    pre, post = changes["testapp"]
    assert pre.operations[0].name == "book_title_idx"
    assert prep_field(pre, "title").null is True
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
    pre, post = changes["testapp"]
    assert (pre.stage, post.stage) == (PRE, POST), describe_changes(changes)
    assert sorted(op_types(pre)) == ["AlterField"] * 4 + ["RemoveIndex"]
    assert sorted(op.name for op in pre.operations) == ["a", "b", "book_a_idx", "d", "e"]
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
        ("title", models.CharField(max_length=200)), ("isbn", models.CharField(max_length=13))
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
