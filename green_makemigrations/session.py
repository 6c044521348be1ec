"""Read and set a run-time setting of a migration's database session.

PostgreSQL's ``SHOW`` / ``SET``, MariaDB/MySQL's session variables (whole
numbers); SQLite has no such settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


def read_setting(connection: BaseDatabaseWrapper, name: str) -> str:
    """Return the session's value of setting name, as text."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SHOW {name}")
        else:
            cursor.execute(f"SELECT @@SESSION.{name}")
        return str(cursor.fetchone()[0])


def write_setting(connection: BaseDatabaseWrapper, name: str, value: str) -> None:
    """Set the session's setting name to value (a whole number on MariaDB/MySQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET {name} = %s", [value])
        else:
            cursor.execute(f"SET SESSION {name} = %s", [int(value)])


@contextmanager
def unless_chosen(
    connection: BaseDatabaseWrapper, name: str, values: Iterable[str], default: str
) -> Iterator[None]:
    """Set PostgreSQL setting name for the block, then restore it.

    Only while the session has the server's default: a value the operator
    chose stays. The first of values the server accepts is taken; if it
    accepts none (unknown value, no privilege) nothing changes and the
    transaction, if any, goes on.
    """
    previous = read_setting(connection, name)
    changed = previous == default and any(
        _try_setting(connection, name, value) for value in dict.fromkeys(values)
    )
    try:
        yield
    finally:
        if changed:
            write_setting(connection, name, previous)


def _try_setting(connection: BaseDatabaseWrapper, name: str, value: str) -> bool:
    """Set name to value; return False if the server refuses it."""
    try:
        # A savepoint inside a transaction, so a refusal does not abort it.
        with transaction.atomic(using=connection.alias):
            write_setting(connection, name, value)
    except DatabaseError:
        return False
    return True
