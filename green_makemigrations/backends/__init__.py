"""Per-backend SQL: how each database makes a schema change without downtime.

Operations say *what* (build this index without blocking writes, keep these
two columns equal while two releases use them); the backend of the
connection says *how*: its statements, its session and lock settings, and
the facts about the database the operations choose their steps by (as
Django keeps vendor DDL in its schema editors and ``connection.features``).
Outside this package no module tests ``connection.vendor``: it asks
:func:`get_backend` (``tests/unit/test_layout.py`` keeps it so).

A new backend is one module here defining a ``DatabaseBackend`` subclass of
:class:`~green_makemigrations.backends.base.BaseBackend`, and one entry in
``BACKENDS``.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

from django.db import NotSupportedError

from ..exceptions import GreenMigrationsError

if TYPE_CHECKING:
    from .base import BaseBackend

# Django's ``connection.vendor`` -> the module of its backend, in this package.
BACKENDS = {
    "postgresql": "postgresql",
    "mysql": "mysql",  # MariaDB and MySQL
    "sqlite": "sqlite",
}


class UnsupportedDatabaseError(GreenMigrationsError, NotSupportedError):
    """The database's backend is not one green_makemigrations knows how to migrate."""


def get_backend(connection: Any) -> BaseBackend:
    """Return the backend of connection's database (one instance per vendor).

    Raise UnsupportedDatabaseError, naming the supported vendors, for a
    database green_makemigrations has no backend for.
    """
    vendor = str(connection.vendor)
    if vendor not in BACKENDS:
        alias = getattr(connection, "alias", None)
        where = f" (database {alias!r})" if alias else ""
        raise UnsupportedDatabaseError(
            f"green_makemigrations has no backend for {vendor!r} databases{where}: it supports "
            "'postgresql', 'mysql' (MariaDB and MySQL) and 'sqlite'. Migrate this database "
            "with one of those, or add a backend module for it to green_makemigrations/backends/."
        )
    return _load(vendor)


@functools.cache
def _load(vendor: str) -> BaseBackend:
    module = importlib.import_module(f"{__name__}.{BACKENDS[vendor]}")
    backend: BaseBackend = module.DatabaseBackend()
    return backend
