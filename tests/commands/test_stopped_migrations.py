"""Migrations that stop on rows the database refuses, and stages that are not stages.

A unique index that meets duplicates, a NOT NULL restored by a rollback that
meets NULLs: the run ends with one message naming the migration, the
operation and what the database said (the rows' values where it names them),
and saying what to do; once the rows are corrected the same command finishes.
Plain ``migrate`` refuses a migration whose ``stage`` is not a stage, as the
stage runs do.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management.base import CommandError
from django.db import connection

from green_makemigrations.exceptions import MigrationDataError, StageConfigurationError

from .utils import APP_LABEL, applied, execute, migration_module, run, select

HEADER = """\
from django.db import migrations, models

import green_makemigrations.operations


class Migration(migrations.Migration):
    atomic = {atomic}

    dependencies = [("testapp", "0001_initial")]

    operations = [
        {operation},
    ]
"""
# Each way to make green_cmd_shelf.name unique, as makemigrations writes it.
UNIQUE_OPERATIONS = {
    "unique field": (
        "green_makemigrations.operations.AlterFieldUniqueConcurrently("
        "model_name='shelf', name='name', field=models.CharField(max_length=50, unique=True))",
        "Alter field name on shelf",
    ),
    "unique constraint": (
        "green_makemigrations.operations.AddUniqueConstraintConcurrently("
        "model_name='shelf', constraint=models.UniqueConstraint("
        "fields=('name',), name='green_cmd_shelf_name_uniq'))",
        "Create constraint green_cmd_shelf_name_uniq on model shelf",
    ),
    "unique together": (
        "green_makemigrations.operations.AlterUniqueTogetherConcurrently("
        "name='shelf', unique_together={('name',)})",
        "Alter unique_together for shelf",
    ),
    "Django's unique field": (
        "migrations.AlterField(model_name='shelf', name='name', "
        "field=models.CharField(max_length=50, unique=True))",
        "Alter field name on shelf",
    ),
}
STAGES = [None, "pre-deploy"]


def write_migration(path: Path, name: str, operation: str) -> None:
    """Write a migration of one operation, non-atomic if it is one of this package's."""
    atomic = not operation.startswith("green_makemigrations.")
    (path / f"{name}.py").write_text(HEADER.format(operation=operation, atomic=atomic))


@pytest.mark.parametrize("stage", STAGES, ids=["plain", "pre-deploy"])
@pytest.mark.parametrize("kind", list(UNIQUE_OPERATIONS))
def test_unique_index_meeting_duplicates_says_which_rows(
    empty_testapp: None, kind: str, stage: str | None
) -> None:
    operation, description = UNIQUE_OPERATIONS[kind]
    with migration_module("initial") as module:
        run("migrate", APP_LABEL, verbosity=0)
        write_migration(module.path, "0002_unique", operation)
        for name in ("twice", "twice", "once"):
            execute("INSERT INTO green_cmd_shelf (name) VALUES (%s)", (name,))
        with pytest.raises(CommandError) as raised:
            run("migrate", APP_LABEL, stage=stage, verbosity=0)
        message = str(raised.value)
        print(message)
        assert isinstance(raised.value.__cause__, MigrationDataError)
        assert message.startswith(f"testapp.0002_unique: operation 1 ({description}")
        assert ") stopped on rows of the table: " in message
        if connection.vendor == "sqlite":  # SQLite names the column, not the value
            assert "(the rows of green_cmd_shelf that share a value of name)" in message
        else:
            assert "twice" in message
        assert "The migration is not recorded as applied" in message
        assert message.endswith(
            "Correct or remove the rows the database names, then run the same command "
            "again to continue."
        )
        assert "0002_unique" not in applied()

        execute("DELETE FROM green_cmd_shelf WHERE name = 'twice'")
        run("migrate", APP_LABEL, stage=stage, verbosity=0)
        assert "0002_unique" in applied()
        execute("INSERT INTO green_cmd_shelf (name) VALUES ('twice')")
        with pytest.raises(Exception):  # noqa: B017, PT011 - each backend its own class
            execute("INSERT INTO green_cmd_shelf (name) VALUES ('twice')")


@pytest.mark.parametrize("stage", [None, "post-deploy"], ids=["plain", "post-deploy"])
def test_rollback_restoring_not_null_over_nulls_says_what_to_do(
    empty_testapp: None, stage: str | None
) -> None:
    """Rolling back a column made nullable meets the NULLs the new release wrote.

    Un-applying a pre-deploy migration is a step of the rollback's post-deploy stage.
    """
    with migration_module("initial") as module:
        write_migration(
            module.path,
            "0002_nullable",
            "migrations.AlterField(model_name='shelf', name='name', "
            "field=models.CharField(max_length=50, null=True))",
        )
        run("migrate", APP_LABEL, verbosity=0)
        execute("INSERT INTO green_cmd_shelf (name) VALUES (NULL)")
        with pytest.raises(CommandError) as raised:
            run("migrate", APP_LABEL, "0001", stage=stage, verbosity=0)
        message = str(raised.value)
        print(message)
        assert isinstance(raised.value.__cause__, MigrationDataError)
        assert message.startswith(
            "testapp.0002_nullable: operation 1 (Alter field name on shelf) stopped on rows "
            "of the table: "
        )
        if connection.vendor == "mysql":  # names the column
            assert "'name'" in message
        else:
            assert "(the rows of green_cmd_shelf where name IS NULL)" in message
        assert "The migration is still recorded as applied (" in message
        assert "0002_nullable" in applied()

        execute("UPDATE green_cmd_shelf SET name = 'restored' WHERE name IS NULL")
        run("migrate", APP_LABEL, "0001", stage=stage, verbosity=0)
        assert "0002_nullable" not in applied()
        assert select("SELECT name FROM green_cmd_shelf") == [("restored",)]


@pytest.mark.parametrize("stage", [None, "pre-deploy", "post-deploy"])
def test_every_run_refuses_an_invalid_stage(empty_testapp: None, stage: str | None) -> None:
    """Plain migrate refuses a migration whose stage is not a stage, before applying any."""
    with migration_module("initial", "bad_stage"):
        with pytest.raises(CommandError, match="has stage = 'mid_deploy'") as raised:
            run("migrate", APP_LABEL, stage=stage, verbosity=0)
        assert isinstance(raised.value.__cause__, StageConfigurationError)
        assert applied() == set()
