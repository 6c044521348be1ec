"""StagedMigrationWriter: the stage line, and a round trip through a written file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import models
from django.db.migrations import Migration, operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ModelState
from django.db.models.functions import Now

from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.constants import EMPTY_STAGE_COMMENTS, STAGE_COMMENTS, Stage
from green_makemigrations.operations import AddIndexConcurrently, SetNotNull
from green_makemigrations.questioner import GreenQuestioner
from green_makemigrations.writer import STAGE_IMPORT, StagedMigrationWriter

from .helpers import load_module, make_graph, make_migration, make_project_state

CLASS_LINE = "class Migration(migrations.Migration):\n"


@pytest.mark.parametrize("stage", list(Stage))
def test_writer_writes_stage_line_and_import(stage: Stage) -> None:
    migration = make_migration(
        "testapp",
        "0002_x",
        [operations.AddField("book", "pages", models.IntegerField(null=True))],
        [("testapp", "0001_initial")],
        stage=stage,
    )
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    comment = "".join(f"    # {line}\n" for line in STAGE_COMMENTS[stage].splitlines())
    assert CLASS_LINE + comment + f"    stage = Stage.{stage.name}\n" in text
    assert text.count("stage = Stage.") == 1
    imports = text[: text.index(CLASS_LINE)].splitlines()
    assert STAGE_IMPORT in imports
    # Sorted among Django's imports, as isort would.
    assert imports.index("from django.db import migrations, models") < imports.index(STAGE_IMPORT)
    compile(text, "0002_x.py", "exec")


def test_writer_without_stage_infers_from_operations() -> None:
    migration = make_migration("testapp", "0002_x", [operations.RemoveField("book", "pages")])
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    assert "    stage = Stage.POST_DEPLOY\n" in text


# -- round trip ---------------------------------------------------------------


def write(package: Path, migration: Migration) -> Path:
    path = package / f"{migration.name}.py"
    path.write_text(StagedMigrationWriter(migration, include_header=False).as_string())
    return path


def comparable(operation: Operation) -> tuple[Any, ...]:
    """Return operation.deconstruct() with fields replaced by their own deconstruct()."""
    name, args, kwargs = operation.deconstruct()
    kwargs = {
        key: value.deconstruct()[1:] if isinstance(value, models.Field) else value
        for key, value in kwargs.items()
    }
    return name, args, kwargs


def generated_migrations() -> tuple[Migration, list[Migration]]:
    """Return an initial migration, and the pre- and post-deploy ones removing Book fields."""
    author = operations.CreateModel("Author", [("id", models.AutoField(primary_key=True))])
    book_fields: list[tuple[str, models.Field[Any, Any]]] = [
        ("id", models.AutoField(primary_key=True)),
        ("created", models.DateTimeField(auto_now_add=True)),
        ("author", models.ForeignKey("testapp.Author", models.PROTECT, related_name="books")),
        ("note", models.TextField(null=True)),
    ]
    book = operations.CreateModel("Book", book_fields)
    initial = make_migration("testapp", "0001_initial", [author, book], stage=Stage.PRE_DEPLOY)
    graph = make_graph([initial])
    after = [
        ModelState("testapp", "Author", [("id", models.AutoField(primary_key=True))]),
        ModelState("testapp", "Book", [("id", models.AutoField(primary_key=True))]),
    ]
    changes = GreenMigrationAutodetector(
        graph.make_state(), make_project_state(after), GreenQuestioner()
    ).changes(graph=graph)
    return initial, changes["testapp"]


def test_generated_migrations_round_trip(migrations_package: Path) -> None:
    _initial, migrations = generated_migrations()
    assert [m.stage for m in migrations] == [Stage.PRE_DEPLOY, Stage.POST_DEPLOY]
    prep = {op.name: op.field for op in migrations[0].operations}
    assert prep["created"].db_default == Now()
    assert isinstance(prep["author"], models.ForeignKey) and prep["author"].null is True
    assert [type(op) for op in migrations[1].operations] == [operations.RemoveField] * 3

    for original in migrations:
        module = load_module(write(migrations_package, original))
        loaded = module.Migration(original.name, "testapp")
        assert loaded.stage is original.stage
        assert [tuple(d) for d in loaded.dependencies] == [tuple(d) for d in original.dependencies]
        assert [comparable(op) for op in loaded.operations] == [
            comparable(op) for op in original.operations
        ]
        assert [type(op) for op in loaded.operations] == [type(op) for op in original.operations]
    loaded_prep = load_module(migrations_package / f"{migrations[0].name}.py").Migration.operations
    fields = {op.name: op.field for op in loaded_prep}
    assert fields["created"].db_default == Now()
    assert fields["author"].remote_field.on_delete is models.PROTECT


def test_merge_after_post_deploy_is_written_post_deploy(
    migrations_package: Path, settings: Any
) -> None:
    """A merge (no operations, no stage) takes the stage of its dependencies on disk.

    The writer loads the project's migration graph from MIGRATION_MODULES,
    with no database connection.
    """
    initial, (pre, post) = generated_migrations()
    for migration in (initial, pre, post):
        write(migrations_package, migration)
    settings.MIGRATION_MODULES = {"testapp": migrations_package.name}

    after_post = make_migration("testapp", "0004_merge", [], [("testapp", post.name)])
    text = StagedMigrationWriter(after_post, include_header=False).as_string()
    assert "    stage = Stage.POST_DEPLOY\n" in text

    # No comment claims what the merge does not do: it breaks nothing.
    assert "Breaks the previous release" not in text
    assert _comments(text) == EMPTY_STAGE_COMMENTS[Stage.POST_DEPLOY].splitlines()

    after_pre = make_migration("testapp", "0004_merge", [], [("testapp", pre.name)])
    text = StagedMigrationWriter(after_pre, include_header=False).as_string()
    assert "    stage = Stage.PRE_DEPLOY\n" in text
    assert _comments(text) == EMPTY_STAGE_COMMENTS[Stage.PRE_DEPLOY].splitlines()


def _comments(text: str) -> list[str]:
    """Return the comment lines of the Migration class."""
    body = text[text.index(CLASS_LINE) :]
    return [line.strip()[2:] for line in body.splitlines() if line.startswith("    # ")]


def _add_index() -> Operation:
    return AddIndexConcurrently("book", models.Index(fields=["pages"], name="book_pages_idx"))


def _set_not_null() -> Operation:
    return SetNotNull("book", "pages", models.IntegerField())


def _alter() -> Operation:
    return operations.AlterField("book", "pages", models.IntegerField(null=True))


@pytest.mark.parametrize(
    ("make_operations", "atomic", "named"),
    [
        ([], True, []),
        ([_alter], True, []),
        ([_add_index], False, ["AddIndexConcurrently"]),
        ([_add_index, _set_not_null], False, ["AddIndexConcurrently", "SetNotNull"]),
        ([_add_index, _add_index], False, ["AddIndexConcurrently"]),
        ([_alter], False, []),  # made non-atomic by hand: no reason claimed
        ([], False, []),
    ],
)
@pytest.mark.parametrize("stage", list(Stage))
def test_header_is_true_to_the_file(
    make_operations: list[Any], atomic: bool, named: list[str], stage: Stage
) -> None:
    """Stage comment by operations or none; "Not atomic" only naming what runs outside one."""
    ops = [make() for make in make_operations]
    migration = make_migration("testapp", "0002_x", ops, [("testapp", "0001_initial")], stage)
    migration.atomic = atomic  # type: ignore[misc]
    text = StagedMigrationWriter(migration, include_header=False).as_string()
    comments = _comments(text)
    stage_comment = (STAGE_COMMENTS if ops else EMPTY_STAGE_COMMENTS)[stage].splitlines()
    assert comments[: len(stage_comment)] == stage_comment
    reason = " ".join(comments[len(stage_comment) :])
    if named:
        assert reason.startswith(f"Not atomic: {', '.join(named)} ")
        assert "outside a transaction" in reason
    else:
        assert reason == ""
    assert ("    atomic = False\n" in text) is not atomic
    if not ops:
        assert "Breaks" not in text and "Safe while" not in text
    compile(text, "0002_x.py", "exec")
