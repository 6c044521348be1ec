"""swap_attribute: the one monkey-patch helper restores what it replaced."""

from __future__ import annotations

import types

import pytest

from green_makemigrations.patching import swap_attribute


def test_swap_attribute_sets_then_restores() -> None:
    owner = types.SimpleNamespace(writer="django")
    with swap_attribute(owner, "writer", "green"):
        assert owner.writer == "green"
    assert owner.writer == "django"


def test_swap_attribute_restores_when_block_raises() -> None:
    owner = types.SimpleNamespace(writer="django")
    with pytest.raises(RuntimeError, match="boom"), swap_attribute(owner, "writer", "green"):
        assert owner.writer == "green"
        raise RuntimeError("boom")
    assert owner.writer == "django"


def test_swap_attribute_nested_restores_in_order() -> None:
    owner = types.SimpleNamespace(writer="django")
    with swap_attribute(owner, "writer", "outer"):
        with swap_attribute(owner, "writer", "inner"):
            assert owner.writer == "inner"
        assert owner.writer == "outer"
    assert owner.writer == "django"


def test_swap_attribute_on_module() -> None:
    from django.core.management.commands import makemigrations

    original = makemigrations.MigrationWriter
    with swap_attribute(makemigrations, "MigrationWriter", object):
        assert makemigrations.MigrationWriter is object
    assert makemigrations.MigrationWriter is original


def test_swap_attribute_missing_attribute_raises_and_sets_nothing() -> None:
    owner = types.SimpleNamespace()
    with pytest.raises(AttributeError), swap_attribute(owner, "writer", "green"):
        pass  # pragma: no cover
    assert not hasattr(owner, "writer")


def test_rebuilds_keep_mirrors_restores_the_schema_editor() -> None:
    from django.db.backends.sqlite3.schema import DatabaseSchemaEditor

    from green_makemigrations.mirror import rebuilds_keep_mirrors

    connection = types.SimpleNamespace(vendor="sqlite", SchemaEditorClass=DatabaseSchemaEditor)
    remake, remove = DatabaseSchemaEditor._remake_table, DatabaseSchemaEditor.remove_field
    with pytest.raises(RuntimeError, match="boom"), rebuilds_keep_mirrors(connection):
        assert DatabaseSchemaEditor._remake_table is not remake
        assert DatabaseSchemaEditor.remove_field is not remove
        raise RuntimeError("boom")
    assert DatabaseSchemaEditor._remake_table is remake
    assert DatabaseSchemaEditor.remove_field is remove
    other = types.SimpleNamespace(vendor="postgresql")
    with rebuilds_keep_mirrors(other):
        assert DatabaseSchemaEditor._remake_table is remake


def test_swap_attribute_missing_ok_deletes_it_again() -> None:
    owner = types.SimpleNamespace()
    with swap_attribute(owner, "input", "green", missing_ok=True):
        assert owner.input == "green"
    assert not hasattr(owner, "input")
    with pytest.raises(RuntimeError), swap_attribute(owner, "input", "green", missing_ok=True):
        raise RuntimeError
    assert not hasattr(owner, "input")
    owner.input = "earlier"
    with swap_attribute(owner, "input", "green", missing_ok=True):
        assert owner.input == "green"
    assert owner.input == "earlier"
