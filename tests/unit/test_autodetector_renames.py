"""Renames that change a column or a table: the operations and stages generated.

A field rename that changes the column becomes, in pre-deploy, the old column
made nullable (if it is NOT NULL), the new column added nullable and
``SyncRenamedColumns``; in post-deploy ``StopSyncRenamedColumns``, the old
column dropped and the new one made NOT NULL. A model rename that changes the
table leaves a view under each old table name until post-deploy. Renames that
cannot be phased are refused with the db_column / db_table fix.

Django's autodetector changes the to-state's field objects while it compares
them (it points renamed relations back at the old names), so every test
builds its model states afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.operations.base import Operation
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ModelState, ProjectState

from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import PhasingError
from green_makemigrations.operations import SetNotNull
from green_makemigrations.questioner import GreenQuestioner
from green_makemigrations.sync import (
    ReplaceColumn,
    StopSyncRenamedColumns,
    SyncRenamedColumns,
    SyncRetypedColumn,
)
from green_makemigrations.views import (
    AlterModelTableWithViews,
    CreateView,
    DropView,
    RenameModelWithViews,
)
from green_makemigrations.writer import StagedMigrationWriter

from .helpers import (
    apply_operations,
    describe_changes,
    joined_stages,
    load_module,
    make_migration,
    make_project_state,
)

Changes = dict[str, list[Migration]]
States = Callable[[], list[ModelState]]


class RecordingQuestioner(GreenQuestioner):
    """Answers yes to every rename question and records what it is told."""

    def __init__(self) -> None:
        super().__init__(defaults={"ask_rename": True, "ask_rename_model": True})
        self.told: list[str] = []

    def inform(self, message: str) -> None:
        self.told.append(message)


def detect(
    before: list[ModelState], after: list[ModelState], questioner: RecordingQuestioner | None = None
) -> Changes:
    return GreenMigrationAutodetector(
        make_project_state(before), make_project_state(after), questioner or RecordingQuestioner()
    )._detect_changes()


def model(
    app_label: str, name: str, *fields: tuple[str, models.Field[Any, Any]], **options: Any
) -> ModelState:
    return ModelState(
        app_label, name, [("id", models.AutoField(primary_key=True)), *fields], options
    )


def foo(*fields: tuple[str, models.Field[Any, Any]], **options: Any) -> ModelState:
    return model("app", "Foo", *fields, **options)


def types(migration: Migration) -> list[type[Operation]]:
    return [type(operation) for operation in migration.operations]


def ops(migration: Migration) -> list[Any]:
    """Return a migration's operations, typed loosely to read their attributes."""
    return list(migration.operations)


def staged(changes: Changes, app_label: str = "app") -> tuple[Migration, Migration]:
    """Return an app's pre-deploy and post-deploy migrations, each stage joined into one.

    Operations that run outside a transaction have migrations of their own:
    see helpers.joined_stages().
    """
    return joined_stages(changes, app_label)


def kwargs_of(field: models.Field[Any, Any]) -> dict[str, Any]:
    return field.deconstruct()[3]


def matches_models(changes: Changes, before: States, after: States) -> bool:
    """Return whether the migrations, pre-deploy first, turn before's state into after's.

    The state must render after each migration, with every relation resolved
    (to_field and to_fields included), and Django's own autodetector must
    find nothing left to do.
    """
    state = make_project_state(before())
    try:
        for stage in Stage:
            for app_label, migrations in changes.items():
                for migration in migrations:
                    if migration.stage is stage:  # type: ignore[attr-defined]
                        state = apply_operations(state, app_label, migration.operations)
                        resolve_relations(state)
    except (FieldDoesNotExist, LookupError, ValueError):
        return False
    left = MigrationAutodetector(
        state, make_project_state(after()), MigrationQuestioner()
    )._detect_changes()
    return not left


def resolve_relations(state: ProjectState) -> None:
    """Render the state's models and resolve the fields each relation points at."""
    for model_state in state.models.values():
        rendered = state.apps.get_model(model_state.app_label, model_state.name)
        for field in rendered._meta.get_fields():
            if isinstance(field, models.ForeignObject):
                field.foreign_related_fields  # noqa: B018 - raises for a missing to_field


# -- field renames ----------------------------------------------------------------


def test_not_null_rename_is_phased() -> None:
    def before() -> list[ModelState]:
        return [foo(("title", models.CharField(max_length=20)))]

    def after() -> list[ModelState]:
        return [foo(("name", models.CharField(max_length=20)))]

    changes = detect(before(), after())

    pre, post = staged(changes)
    assert types(pre) == [
        operations.AlterField,
        operations.AddField,
        SyncRenamedColumns,
    ], describe_changes(changes)
    assert types(post) == [StopSyncRenamedColumns, operations.RemoveField, SetNotNull]
    alter, add, sync = ops(pre)
    assert (alter.name, kwargs_of(alter.field)) == ("title", {"max_length": 20, "null": True})
    assert (add.name, kwargs_of(add.field)) == ("name", {"max_length": 20, "null": True})
    assert (sync.model_name, sync.old_name, sync.new_name) == ("foo", "title", "name")
    stop, remove, not_null = ops(post)
    assert (stop.old_name, stop.new_name) == ("title", "name")
    assert remove.name == "title"
    assert not_null.name == "name" and not_null.field.null is False
    # The backfill commits batch by batch: the sync and its stop run outside
    # a transaction, in migrations of their own.
    assert [(m.stage, m.atomic) for m in changes["app"]] == [  # type: ignore[attr-defined]
        (Stage.PRE_DEPLOY, True),
        (Stage.PRE_DEPLOY, False),
        (Stage.POST_DEPLOY, False),
        (Stage.POST_DEPLOY, True),
        (Stage.POST_DEPLOY, False),
    ], describe_changes(changes)
    assert matches_models(changes, before, after)


def test_not_null_rename_with_default_adds_the_new_column_without_it() -> None:
    def before() -> list[ModelState]:
        return [foo(("title", models.CharField(max_length=20, default="untitled")))]

    def after() -> list[ModelState]:
        return [foo(("name", models.CharField(max_length=20, default="untitled")))]

    changes = detect(before(), after())

    pre, post = staged(changes)
    assert types(pre) == [operations.AlterField, operations.AddField, SyncRenamedColumns]
    alter, add = ops(pre)[:2]
    # The old column keeps its default for the old release's inserts; the new
    # one gets no default: the sync fills it from the old column.
    assert kwargs_of(alter.field) == {"max_length": 20, "default": "untitled", "null": True}
    assert kwargs_of(add.field) == {"max_length": 20, "null": True}
    assert types(post) == [StopSyncRenamedColumns, operations.RemoveField, SetNotNull]
    assert kwargs_of(ops(post)[2].field) == {"max_length": 20, "default": "untitled"}
    assert matches_models(changes, before, after)


def test_nullable_rename_needs_no_alter_before_or_after() -> None:
    def before() -> list[ModelState]:
        return [foo(("title", models.CharField(max_length=20, null=True)))]

    def after() -> list[ModelState]:
        return [foo(("name", models.CharField(max_length=20, null=True)))]

    changes = detect(before(), after())

    pre, post = staged(changes)
    assert types(pre) == [operations.AddField, SyncRenamedColumns], describe_changes(changes)
    assert types(post) == [StopSyncRenamedColumns, operations.RemoveField]
    assert kwargs_of(ops(pre)[0].field) == {"max_length": 20, "null": True}
    assert matches_models(changes, before, after)


def test_foreign_key_rename_is_phased_on_the_id_column() -> None:
    def before() -> list[ModelState]:
        return [foo(), model("app", "Bar", ("foo", models.ForeignKey("app.Foo", models.CASCADE)))]

    def after() -> list[ModelState]:
        return [
            foo(),
            model("app", "Bar", ("owner", models.ForeignKey("app.Foo", models.CASCADE))),
        ]

    questioner = RecordingQuestioner()
    changes = detect(before(), after(), questioner)

    pre, post = staged(changes)
    assert types(pre) == [operations.AlterField, operations.AddField, SyncRenamedColumns]
    add = ops(pre)[1]
    assert add.name == "owner" and add.field.null is True
    assert add.field.remote_field.model == "app.foo"
    assert types(post) == [StopSyncRenamedColumns, operations.RemoveField, SetNotNull]
    assert "renames column foo_id to owner_id" in questioner.told[0]
    assert "Keep db_column='foo_id'" in questioner.told[0]
    assert matches_models(changes, before, after)


def test_rename_keeping_the_column_is_a_plain_rename_field() -> None:
    questioner = RecordingQuestioner()
    changes = detect(
        [foo(("title", models.CharField(max_length=20)))],
        [foo(("name", models.CharField(max_length=20, db_column="title")))],
        questioner,
    )

    (migration,) = changes["app"]
    assert migration.stage is Stage.PRE_DEPLOY  # type: ignore[attr-defined]
    assert operations.RenameField in types(migration), describe_changes(changes)
    assert not {SyncRenamedColumns, operations.AddField, operations.RemoveField} & set(
        types(migration)
    )
    assert questioner.told == []


def test_rename_of_a_field_with_db_column_on_both_sides_is_a_plain_rename_field() -> None:
    changes = detect(
        [foo(("title", models.CharField(max_length=20, db_column="legacy")))],
        [foo(("name", models.CharField(max_length=20, db_column="legacy")))],
    )

    (migration,) = changes["app"]
    assert types(migration) == [operations.RenameField], describe_changes(changes)


def test_db_column_on_the_old_field_only_is_no_rename_for_django() -> None:
    """Django asks about a rename only when the fields deconstruct alike (or db_column is added).

    A field that loses its db_column is a removal and an addition: no sync.
    """
    changes = detect(
        [foo(("title", models.CharField(max_length=20, db_column="legacy", null=True)))],
        [foo(("name", models.CharField(max_length=20, null=True)))],
    )

    pre, post = staged(changes)
    assert types(pre) == [operations.AddField], describe_changes(changes)
    assert types(post) == [operations.RemoveField]


def test_old_db_column_reused_by_the_new_field_is_refused_with_the_fix() -> None:
    # The column would be added (pre-deploy) before the old field's drop (post-deploy).
    with pytest.raises(PhasingError) as raised:
        detect(
            [foo(("name", models.CharField(max_length=20, db_column="title", null=True)))],
            [foo(("title", models.CharField(max_length=20, null=True)))],
        )
    assert str(raised.value).startswith(
        "app.foo.name is removed and app.foo.title added with the same column, title"
    )
    assert "give title db_column='title' and answer yes" in str(raised.value)


def test_renamed_model_and_renamed_field_together() -> None:
    def before() -> list[ModelState]:
        return [model("app", "Author", ("name", models.CharField(max_length=20)))]

    def after() -> list[ModelState]:
        # Django sees a model rename only if the fields, sorted by name, match.
        return [model("app", "Writer", ("pen_name", models.CharField(max_length=20)))]

    changes = detect(before(), after())

    pre, post = staged(changes)
    assert types(pre) == [
        RenameModelWithViews,
        operations.AlterField,
        operations.AddField,
        SyncRenamedColumns,
    ], describe_changes(changes)
    assert types(post) == [
        DropView,
        StopSyncRenamedColumns,
        operations.RemoveField,
        SetNotNull,
    ]
    sync = ops(pre)[-1]
    assert (sync.model_name, sync.old_name, sync.new_name) == ("writer", "name", "pen_name")
    assert ops(pre)[0].views == [("app_author", None, {})]
    assert matches_models(changes, before, after)


def test_two_renames_on_one_model_sync_last_and_stop_first() -> None:
    def before() -> list[ModelState]:
        return [
            foo(
                ("title", models.CharField(max_length=20)),
                ("pages", models.IntegerField(null=True)),
            )
        ]

    def after() -> list[ModelState]:
        return [
            foo(
                ("name", models.CharField(max_length=20)),
                ("leaves", models.IntegerField(null=True)),
            )
        ]

    changes = detect(before(), after())

    pre, post = staged(changes)
    pre_types, post_types = types(pre), types(post)
    # SQLite rebuilds a table to alter it, dropping its triggers: every sync
    # starts after the stage's other changes, and stops before them.
    assert pre_types[-2:] == [SyncRenamedColumns, SyncRenamedColumns], describe_changes(changes)
    assert SyncRenamedColumns not in pre_types[:-2]
    assert post_types[:2] == [StopSyncRenamedColumns, StopSyncRenamedColumns]
    assert StopSyncRenamedColumns not in post_types[2:]
    assert {(op.old_name, op.new_name) for op in ops(pre)[-2:]} == {
        ("title", "name"),
        ("pages", "leaves"),
    }
    assert sorted(op.name for op in ops(post) if isinstance(op, operations.RemoveField)) == [
        "pages",
        "title",
    ]
    assert matches_models(changes, before, after)


# -- model renames ----------------------------------------------------------------


def test_model_rename_leaves_views_for_its_table_and_many_to_many_tables() -> None:
    def before() -> list[ModelState]:
        return [
            model("app", "Tag"),
            model("app", "Post", ("tags", models.ManyToManyField("app.Tag"))),
        ]

    def after() -> list[ModelState]:
        return [
            model("app", "Tag"),
            model("app", "Article", ("tags", models.ManyToManyField("app.Tag"))),
        ]

    changes = detect(before(), after())

    pre, post = staged(changes)
    # One operation renames the tables and creates the views: no moment without either.
    assert types(pre) == [RenameModelWithViews]
    assert types(post) == [DropView, DropView]
    assert ops(pre)[0].views == [
        ("app_post", None, {}),
        ("app_post_tags", "tags", {"post_id": "article_id"}),
    ]
    # Each DropView drops a view the rename made.
    assert [op.deconstruct()[2] for op in ops(post)] == [
        # The columns of the old tables, which the running release uses.
        {"name": "app_post", "model_name": "Article", "columns": ["id"]},
        {
            "name": "app_post_tags",
            "model_name": "Article",
            "field_name": "tags",
            "renamed_columns": {"post_id": "article_id"},
            "columns": ["id", "post_id", "tag_id"],
        },
    ]
    assert matches_models(changes, before, after)


def test_self_referential_many_to_many_view_renames_both_columns() -> None:
    changes = detect(
        [model("app", "Person", ("friends", models.ManyToManyField("self")))],
        [model("app", "Human", ("friends", models.ManyToManyField("self")))],
    )

    pre, post = staged(changes)
    assert types(pre) == [RenameModelWithViews]
    assert ops(pre)[0].views[1] == (
        "app_person_friends",
        "friends",
        {"from_person_id": "from_human_id", "to_person_id": "to_human_id"},
    )
    assert types(post) == [DropView, DropView]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            ModelState("app", "Cover", [], {"proxy": True}, ("app.foo",)),
            ModelState("app", "Jacket", [], {"proxy": True}, ("app.foo",)),
        ),
        (model("app", "Legacy", managed=False), model("app", "Outside", managed=False)),
    ],
    ids=["proxy", "unmanaged"],
)
def test_proxy_and_unmanaged_models_need_nothing(old: ModelState, new: ModelState) -> None:
    questioner = RecordingQuestioner()
    changes = detect([foo(), old], [foo(), new], questioner)

    (migration,) = changes["app"]
    assert migration.stage is Stage.PRE_DEPLOY  # type: ignore[attr-defined]
    assert not {RenameModelWithViews, SyncRenamedColumns} & set(types(migration)), describe_changes(
        changes
    )
    assert questioner.told == []


def test_model_rename_keeping_the_table_is_quiet_and_state_only() -> None:
    """Django's RenameModel and AlterModelTable would rename the table, then back."""

    def before() -> list[ModelState]:
        return [model("app", "Post", ("title", models.CharField(max_length=20)))]

    def after() -> list[ModelState]:
        return [
            model("app", "Article", ("title", models.CharField(max_length=20)), db_table="app_post")
        ]

    questioner = RecordingQuestioner()
    changes = detect(before(), after(), questioner)

    (migration,) = changes["app"]
    assert migration.stage is Stage.PRE_DEPLOY  # type: ignore[attr-defined]
    assert types(migration) == [operations.SeparateDatabaseAndState], describe_changes(changes)
    (operation,) = ops(migration)
    assert operation.database_operations == []
    assert [type(op) for op in operation.state_operations] == [
        operations.RenameModel,
        operations.AlterModelTable,
    ]
    assert matches_models(changes, before, after)
    assert questioner.told == []


def test_model_rename_keeping_an_explicit_table_is_a_plain_rename() -> None:
    changes = detect(
        [model("app", "Post", db_table="posts")], [model("app", "Article", db_table="posts")]
    )

    (migration,) = changes["app"]
    assert types(migration) == [operations.RenameModel], describe_changes(changes)


# -- refusals ---------------------------------------------------------------------


def test_primary_key_rename_is_refused() -> None:
    with pytest.raises(PhasingError) as error:
        detect(
            [model("app", "Tag")],
            [ModelState("app", "Tag", [("key", models.AutoField(primary_key=True))])],
        )

    assert str(error.value) == (
        "Renaming app.tag.id to key changes its database name, and this rename cannot be "
        "phased: it is the primary key, which other tables point at. Keep the database "
        "name (db_column='id') to rename without touching the database."
    )


def test_many_to_many_rename_that_renames_its_table_is_refused() -> None:
    with pytest.raises(PhasingError) as error:
        detect(
            [
                model("app", "Tag"),
                model("app", "Post", ("tags", models.ManyToManyField("app.Tag"))),
            ],
            [
                model("app", "Tag"),
                model("app", "Post", ("labels", models.ManyToManyField("app.Tag"))),
            ],
        )

    assert str(error.value) == (
        "Renaming app.post.tags to labels renames its table app_post_tags, which breaks the "
        "release that uses the old name. Keep db_table='app_post_tags' on the field to "
        "rename without touching the database."
    )


def test_many_to_many_rename_keeping_its_table_is_a_plain_rename() -> None:
    changes = detect(
        [model("app", "Tag"), model("app", "Post", ("tags", models.ManyToManyField("app.Tag")))],
        [
            model("app", "Tag"),
            model(
                "app",
                "Post",
                ("labels", models.ManyToManyField("app.Tag", db_table="app_post_tags")),
            ),
        ],
    )

    for migration in changes["app"]:
        assert SyncRenamedColumns not in types(migration), describe_changes(changes)
        assert RenameModelWithViews not in types(migration)


def test_model_rename_under_another_models_many_to_many_is_refused() -> None:
    with pytest.raises(PhasingError) as error:
        detect(
            [
                model("app", "Tag"),
                model("app", "Post", ("tags", models.ManyToManyField("app.Tag"))),
            ],
            [
                model("app", "Label"),
                model("app", "Post", ("tags", models.ManyToManyField("app.Label"))),
            ],
        )

    assert str(error.value) == (
        "Renaming app.Tag to Label renames column tag_id to label_id of table app_post_tags "
        "(app.Post.tags), which the running release uses; the table keeps its name, so no "
        "view can stand in for the old column. First give app.Post.tags an explicit through "
        "model, in a release of its own: db_table set to that table, ForeignKeys that keep "
        "the columns (tag = models.ForeignKey(...)), switched to with a state-only migration "
        "(migrations.SeparateDatabaseAndState, as Django's documentation shows for changing "
        "a ManyToManyField to use a through model). Then rename the model: no column changes."
    )


# -- renames that touch other relations, or other options ------------------------------


def test_rename_of_a_foreign_key_target_field() -> None:
    def before() -> list[ModelState]:
        return [
            foo(("field", models.IntegerField(unique=True))),
            model(
                "app",
                "Bar",
                ("foo", models.ForeignKey("app.Foo", models.CASCADE, to_field="field")),
            ),
        ]

    def after() -> list[ModelState]:
        return [
            foo(("renamed_field", models.IntegerField(unique=True))),
            model(
                "app",
                "Bar",
                ("foo", models.ForeignKey("app.Foo", models.CASCADE, to_field="renamed_field")),
            ),
        ]

    try:
        changes = detect(before(), after())
    except PhasingError:
        return  # a refusal is a fix too
    assert matches_models(changes, before, after), describe_changes(changes)


def test_rename_of_foreign_object_target_fields() -> None:
    fields, renamed = ("first", "second"), ("first_renamed", "second_renamed")

    def state(targets: tuple[str, str]) -> list[ModelState]:
        return [
            foo(*((name, models.IntegerField()) for name in targets), unique_together={targets}),
            model(
                "app",
                "Bar",
                ("first", models.IntegerField()),
                ("second", models.IntegerField()),
                (
                    "foo",
                    models.ForeignObject(
                        "app.Foo", models.CASCADE, from_fields=fields, to_fields=targets
                    ),
                ),
            ),
        ]

    try:
        changes = detect(state(fields), state(renamed))
    except PhasingError:
        return
    assert matches_models(changes, lambda: state(fields), lambda: state(renamed))


def test_model_rename_with_another_apps_foreign_key_renamed_is_refused() -> None:
    def before() -> list[ModelState]:
        return [
            model("testapp", "Author", ("name", models.CharField(max_length=20))),
            model(
                "otherapp", "Book", ("author", models.ForeignKey("testapp.Author", models.CASCADE))
            ),
        ]

    def after() -> list[ModelState]:
        return [
            model("testapp", "Writer", ("name", models.CharField(max_length=20))),
            model(
                "otherapp", "Book", ("writer", models.ForeignKey("testapp.Writer", models.CASCADE))
            ),
        ]

    # otherapp's new column needs testapp's rename first, which Django makes
    # depend on otherapp: no order of the two apps' migrations works.
    with pytest.raises(PhasingError, match="it points at testapp.Writer, renamed in the same run"):
        detect(before(), after())


@pytest.mark.parametrize(
    "options",
    [
        {"db_table": "app_writers"},
        {"verbose_name": "writer"},
        {"indexes": [models.Index(fields=["name"], name="writer_name_idx")]},
    ],
    ids=["db_table", "verbose_name", "index"],
)
def test_model_rename_with_a_meta_change(options: dict[str, Any]) -> None:
    if "db_table" in options:
        # The table would be renamed twice (by RenameModel, then AlterModelTable).
        with pytest.raises(PhasingError, match="rename its table twice in one migration"):
            detect(
                [model("app", "Author", ("name", models.CharField(max_length=20)))],
                [model("app", "Writer", ("name", models.CharField(max_length=20)), **options)],
            )
        return
    changes = detect(
        [model("app", "Author", ("name", models.CharField(max_length=20)))],
        [model("app", "Writer", ("name", models.CharField(max_length=20)), **options)],
    )

    pre, post = staged(changes)
    assert RenameModelWithViews in types(pre)
    assert types(post) == [DropView]


@pytest.mark.parametrize(
    ("old_options", "new_options", "old_table"),
    [
        ({}, {"db_table": "app_writers"}, "app_author"),
        ({"db_table": "authors"}, {"db_table": "app_writers"}, "authors"),
        ({"db_table": "authors"}, {}, "authors"),
    ],
    ids=["set", "changed", "removed"],
)
def test_db_table_change_leaves_a_view_until_post_deploy(
    old_options: dict[str, Any], new_options: dict[str, Any], old_table: str
) -> None:
    def state(options: dict[str, Any]) -> list[ModelState]:
        return [
            model("app", "Tag"),
            model(
                "app",
                "Author",
                ("name", models.CharField(max_length=20)),
                ("tags", models.ManyToManyField("app.Tag")),
                **options,
            ),
        ]

    changes = detect(state(old_options), state(new_options))

    pre, post = staged(changes)
    assert types(pre) == [AlterModelTableWithViews], describe_changes(changes)
    views = ops(pre)[0].views
    # The table and its many-to-many table (named after it) keep their old names.
    assert views == [(old_table, None, {}), (f"{old_table}_tags", "tags", {})]
    assert types(post) == [DropView, DropView]
    assert matches_models(changes, lambda: state(old_options), lambda: state(new_options))


def test_renamed_model_with_its_explicit_table_renamed_gets_the_view_from_the_table_change() -> (
    None
):
    changes = detect(
        [model("app", "Author", ("name", models.CharField(max_length=20)), db_table="authors")],
        [model("app", "Writer", ("name", models.CharField(max_length=20)), db_table="writers")],
    )

    pre, post = staged(changes)
    assert types(pre) == [operations.RenameModel, AlterModelTableWithViews]
    assert ops(pre)[1].views == [("authors", None, {})]
    assert types(post) == [DropView]


# -- written and read back ----------------------------------------------------------


RENAME_OPERATIONS: list[Operation] = [
    SyncRenamedColumns("Foo", "title", "name"),
    SyncRenamedColumns("Foo", "pages", "leaves", batch_size=250),
    StopSyncRenamedColumns("Foo", "title", "name"),
    CreateView("app_post", "Article"),
    CreateView("app_post_tags", "Article", "tags", {"post_id": "article_id"}),
    DropView("app_post", "Article"),
    DropView("app_post_tags", "Article", "tags", {"post_id": "article_id"}),
    DropView("app_post", "Article", columns=["id", "title"]),
]
WRITTEN_OPERATIONS = [
    *RENAME_OPERATIONS,
    RenameModelWithViews("Post", "Article", [("app_post", None, {})]),
    AlterModelTableWithViews("Article", "articles", [("app_article", None, {})]),
    SyncRetypedColumn("Foo", "pages", "pages_retyped"),
    ReplaceColumn("Foo", "pages", "pages_retyped"),
]


def test_rename_operations_written_and_reloaded(migrations_package: Path) -> None:
    migration = make_migration("app", "0002_renames", WRITTEN_OPERATIONS, stage=Stage.PRE_DEPLOY)
    migration.atomic = False  # type: ignore[misc]
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    path = migrations_package / "0002_renames.py"
    path.write_text(text)

    assert "import green_makemigrations.sync\n" in text
    assert "import green_makemigrations.views\n" in text
    for qualified in (
        "green_makemigrations.sync.SyncRenamedColumns(",
        "green_makemigrations.sync.StopSyncRenamedColumns(",
        "green_makemigrations.views.CreateView(",
        "green_makemigrations.views.DropView(",
        "green_makemigrations.views.RenameModelWithViews(",
        "green_makemigrations.views.AlterModelTableWithViews(",
        "green_makemigrations.sync.SyncRetypedColumn(",
        "green_makemigrations.sync.ReplaceColumn(",
    ):
        assert qualified in text
    assert "batch_size=250" in text
    assert text.count("batch_size") == 1  # the default is not written
    loaded = load_module(path).Migration
    assert loaded.atomic is False
    assert [type(op) for op in loaded.operations] == types(migration)
    assert [op.deconstruct() for op in loaded.operations] == [
        op.deconstruct() for op in WRITTEN_OPERATIONS
    ]


def test_rename_operations_leave_the_state_alone() -> None:
    before = make_project_state(
        [
            foo(
                ("title", models.CharField(max_length=20)),
                ("name", models.CharField(max_length=20)),
            ),
            model("app", "Tag"),
            model("app", "Article", ("tags", models.ManyToManyField("app.Tag"))),
        ]
    )
    after: ProjectState = apply_operations(before, "app", RENAME_OPERATIONS)

    assert {key: state.fields.keys() for key, state in after.models.items()} == {
        key: state.fields.keys() for key, state in before.models.items()
    }


def test_type_change_with_a_db_table_change_comes_before_the_view() -> None:
    # PostgreSQL cannot change the type of a column a view uses. (A renamed model
    # cannot change a field's type in the same run: Django then sees no rename.)
    changes = detect(
        [model("app", "Author", ("name", models.CharField(max_length=20)))],
        [model("app", "Author", ("name", models.CharField(max_length=40)), db_table="authors")],
    )

    pre, post = staged(changes)
    assert types(pre) == [operations.AlterField, AlterModelTableWithViews]
    assert types(post) == [DropView]
