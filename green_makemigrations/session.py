"""Read and set a run-time setting of a migration's database session.

PostgreSQL's ``SHOW`` / ``SET``, MariaDB/MySQL's session variables (whole
numbers); SQLite has no such settings.
"""

from __future__ import annotations

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
