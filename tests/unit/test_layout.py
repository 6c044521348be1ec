"""The package's layout: vendor SQL lives in green_makemigrations/backends/ only.

Operations say what; the backend of the connection says how. A module that
tests ``connection.vendor`` (or compares with a vendor's name) outside
backends/ puts a backend's SQL back among the operations: the scan below
names each one.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest
from django.db import NotSupportedError, connection

import green_makemigrations
from green_makemigrations.backends import BACKENDS, UnsupportedDatabaseError, get_backend
from green_makemigrations.backends.base import BaseBackend
from green_makemigrations.exceptions import GreenMigrationsError

PACKAGE = Path(green_makemigrations.__file__).parent
BACKENDS_DIR = PACKAGE / "backends"
VENDORS = frozenset(BACKENDS)


def _vendor_tests(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """Return "path:line: source" of each vendor test in the module at path, from root."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "vendor":  # connection.vendor
            found.add(node.lineno)
        elif isinstance(node, ast.Constant) and node.value in {*VENDORS, "vendor"}:
            # x == "postgresql", in ("mysql",), {"sqlite": ...}, getattr(c, "vendor")
            found.add(node.lineno)
    where = path.relative_to(root)
    return [f"{where}:{line}: {lines[line - 1].strip()}" for line in sorted(found)]


def test_no_module_outside_backends_tests_the_vendor() -> None:
    offenders = [
        offence
        for path in sorted(PACKAGE.rglob("*.py"))
        if BACKENDS_DIR not in path.parents
        for offence in _vendor_tests(path)
    ]
    assert not offenders, (
        "Vendor tests outside green_makemigrations/backends/; ask get_backend(connection) "
        "for the statement or the fact instead:\n" + "\n".join(offenders)
    )


def test_the_scan_finds_a_vendor_test(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        'def f(connection):\n    if connection.vendor == "mysql":\n        return 1\n'
        '    return getattr(connection, "vendor") in ("sqlite",)\n'
    )
    assert [line.split(": ", 1)[0] for line in _vendor_tests(module, tmp_path)] == [
        "module.py:2",
        "module.py:4",
    ]


def test_get_backend_is_the_connections_and_cached() -> None:
    backend = get_backend(connection)
    assert backend.vendor == connection.vendor
    assert get_backend(connection) is backend


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_each_backend_module_implements_the_interface(vendor: str) -> None:
    module = importlib.import_module(f"green_makemigrations.backends.{BACKENDS[vendor]}")
    assert issubclass(module.DatabaseBackend, BaseBackend)
    assert module.DatabaseBackend.vendor == vendor
    assert get_backend(types.SimpleNamespace(vendor=vendor)) is get_backend(
        types.SimpleNamespace(vendor=vendor)
    )


def test_every_backend_module_is_registered() -> None:
    modules = {path.stem for path in BACKENDS_DIR.glob("*.py")} - {"__init__", "base"}
    assert modules == set(BACKENDS.values())


def test_an_unsupported_vendor_is_refused_naming_the_supported_ones() -> None:
    oracle = types.SimpleNamespace(vendor="oracle", alias="legacy")
    with pytest.raises(UnsupportedDatabaseError) as raised:
        get_backend(oracle)
    message = str(raised.value)
    assert "'oracle'" in message and "'legacy'" in message
    assert all(f"'{vendor}'" in message for vendor in VENDORS)
    assert isinstance(raised.value, GreenMigrationsError)
    assert isinstance(raised.value, NotSupportedError)
