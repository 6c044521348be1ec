"""The tables read from ModelStates are the tables Django renders, field for field.

StateProjection reads a migration state without rendering it (rendering a
large project's state after every operation takes minutes). It must give,
for every model, what Django's rendering gives (model_relation() of the
rendered model, and of its auto-created many-to-many models): checked on
the whole state of the test project's installed apps, and on models built
for the cases where Django's naming has rules of its own, on every backend.
"""

from __future__ import annotations

import pytest
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ModelState, ProjectState

from green_makemigrations.verify.schema import StateProjection, model_relation


def assert_same_as_rendered(state: ProjectState) -> int:
    """Assert the projection of every model of state equals its rendering; return the count."""
    projection = StateProjection(state, connection)
    rendered = {}
    for model in state.apps.get_models(include_auto_created=True):
        if model._meta.app_label in state.real_apps:
            continue  # apps without migrations: read from the app registry, not projected
        if model._meta.managed and not model._meta.proxy:
            rendered[model._meta.db_table] = model_relation(model, connection)
    projected = {}
    for key in state.models:
        projected.update(projection.relations(key))
    assert projected.keys() == rendered.keys()
    for table, relation in projected.items():
        expected = rendered[table]
        assert relation.columns == expected.columns, table
        assert relation.unique == expected.unique, table
    return len(projected)


# MariaDB/MySQL types depend on the server's version, which Django asks it for.
pytestmark = pytest.mark.django_db


def test_the_installed_apps_state() -> None:
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    assert assert_same_as_rendered(state) >= 7  # contenttypes, auth (with its m2m tables)


def _model(
    name: str,
    fields: list[tuple[str, models.Field]],
    bases: tuple[str, ...] = (),
    **options: object,
) -> ModelState:
    return ModelState("green_proj", name, fields, options, bases=bases or None)


def test_naming_rules() -> None:
    pk = ("id", models.AutoField(primary_key=True))
    state = ProjectState()
    for model_state in [
        _model("Author", [("code", models.CharField(max_length=8, primary_key=True))]),
        _model(
            "Book",
            [
                pk,
                ("author", models.ForeignKey("green_proj.Author", models.CASCADE)),
                (
                    "editor",
                    models.ForeignKey(
                        "green_proj.Author", models.SET_NULL, null=True, db_column="ed"
                    ),
                ),
                ("isbn", models.CharField(max_length=13, unique=True)),
                ("title", models.CharField(max_length=50, db_default="untitled")),
                ("tags", models.ManyToManyField("green_proj.Tag")),
                ("similar", models.ManyToManyField("green_proj.Book")),
                ("shelved", models.ManyToManyField("green_proj.Tag", db_table="green_shelved")),
                ("ref", models.ForeignKey("green_proj.Tag", models.CASCADE, to_field="slug")),
            ],
            unique_together={("author", "title")},
            constraints=[models.UniqueConstraint(fields=["editor", "isbn"], name="green_u")],
        ),
        _model(
            "Tag",
            [pk, ("slug", models.SlugField(unique=True))],
            db_table="green_the_tags",
        ),
        # Multi-table inheritance: the child's key is a one-to-one to the parent.
        _model(
            "Novel",
            [
                (
                    "book_ptr",
                    models.OneToOneField(
                        "green_proj.Book", models.CASCADE, parent_link=True, primary_key=True
                    ),
                ),
                ("pages", models.IntegerField()),
            ],
            bases=("green_proj.book",),
        ),
        _model(
            "Chapter",
            [pk, ("novel", models.ForeignKey("green_proj.Novel", models.CASCADE))],
        ),
        _model("Proxy", [], proxy=True, bases=("green_proj.tag",)),
        _model("Unmanaged", [pk], managed=False),
        _model(
            "A" * 40 + "VeryLongModelNameIndeed",
            [pk, ("m" * 30, models.ManyToManyField("green_proj.Tag"))],
        ),
    ]:
        state.add_model(model_state)
    assert assert_same_as_rendered(state) == 10
