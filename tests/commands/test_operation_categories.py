"""Every custom operation says what kind of change it is, as Django's do.

makemigrations prints each operation after a symbol of its ``category``
(``+`` addition, ``-`` removal, ``~`` alteration, ``p`` Python, ``s`` SQL);
an operation without one shows ``?``. The classes are discovered in the
package, not listed, so a new operation without a category fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import models
from django.db.migrations.operations.base import Operation, OperationCategory

import green_makemigrations

from .test_generated_names import create, model_source, odd_app
from .utils import written

# Classes allowed to keep MIXED ("?"), with the reason. None today.
MIXED_JUSTIFIED: dict[str, str] = {}


def custom_operation_classes() -> list[type[Operation]]:
    """Return every Operation subclass defined in the package, from every module."""
    found: set[type[Operation]] = set()
    for info in pkgutil.walk_packages(green_makemigrations.__path__, "green_makemigrations."):
        module = importlib.import_module(info.name)
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Operation) and value.__module__.startswith(
                "green_makemigrations."
            ):
                found.add(value)
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


CLASSES = custom_operation_classes()


def test_the_discovery_finds_the_operations_of_every_module() -> None:
    modules = {cls.__module__.rsplit(".", 1)[1] for cls in CLASSES}
    assert {"operations", "sync", "views", "foreign_keys"} <= modules, modules
    assert len(CLASSES) >= 20, CLASSES


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__qualname__)
def test_every_custom_operation_has_a_category(cls: type[Operation]) -> None:
    category = cls.category
    assert isinstance(category, OperationCategory), f"{cls.__qualname__} has no category"
    if category is OperationCategory.MIXED:
        assert cls.__qualname__ in MIXED_JUSTIFIED, f"{cls.__qualname__} shows as '?'"


# The operations of the phased changes below, and the symbol each must show.
EXPECTED_SYMBOLS = {
    "AlterField": "~",
    "AddField": "+",
    "RemoveField": "-",
    "SyncRenamedColumns": "+",
    "StopSyncRenamedColumns": "-",
    "SetNotNull": "~",
    "SyncRetypedColumn": "+",
    "ReplaceColumn": "~",
    "AddIndexConcurrently": "+",
    "RemoveIndexConcurrently": "-",
    "RenameModel": "~",
    "AlterModelTableWithViews": "~",
    "DropView": "-",
}


def test_makemigrations_shows_each_phased_operation_with_its_symbol(
    tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renamed field, a retyped one, an index moved, a renamed model: no "?" line."""
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # yes, renamed
    initial = [
        create("Thing", [("title", models.IntegerField())], "gc_thing"),
        create(
            "Meter",
            [("amount", models.IntegerField()), ("kept", models.IntegerField())],
            "gc_meter",
            indexes=[models.Index(fields=["kept"], name="gc_meter_kept_idx")],
        ),
        create("Shelf", [("name", models.IntegerField())], "gc_shelf"),
    ]
    source = (
        model_source("Thing", {"headline": "models.IntegerField()"}, "gc_thing")
        + model_source(
            "Meter",
            {
                "amount": "models.BigIntegerField()",
                "kept": "models.IntegerField()",
                "note": "models.IntegerField(null=True)",
            },
            "gc_meter",
            "indexes = [models.Index(fields=['note'], name='gc_meter_note_idx')]",
        )
        # Renamed, its table too: a view under the old name until post-deploy.
        + model_source("Rack", {"name": "models.IntegerField()"}, "gc_rack")
    )
    tables = ["gc_thing", "gc_meter", "gc_shelf", "gc_rack"]
    with odd_app(tmp_path, initial, source, tables) as app:
        output = StringIO()
        call_command("makemigrations", app.label, interactive=True, stdout=output)
        text = output.getvalue()
        lines = [line.strip() for line in text.splitlines() if re.match(r"    \S ", line)]
        assert lines, text
        assert not [line for line in lines if line.startswith("?")], text
        seen = set()
        for migration in written(app.migrations):
            module = app.migrations.parent.name + ".migrations." + migration.name
            for operation in importlib.import_module(module).Migration.operations:
                name = type(operation).__name__
                assert name in EXPECTED_SYMBOLS, f"{name}:\n{text}"
                line = f"{EXPECTED_SYMBOLS[name]} {operation.describe()}"
                assert line in lines, f"{line!r} not in:\n{text}"
                seen.add(name)
        assert set(EXPECTED_SYMBOLS) - {"RemoveField"} <= seen, seen
