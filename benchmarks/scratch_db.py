"""Throw-away databases for the benchmarks, on the servers the tests use.

Connection URLs come from GREEN_POSTGRES_URL / GREEN_MYSQL_URL, as in
tests/settings; each benchmark gets its own database, dropped on exit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

SERVERS = {
    "postgresql": (
        "GREEN_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
        "django.db.backends.postgresql",
        "postgres",
    ),
    "mysql": (
        "GREEN_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/mysql",
        "django.db.backends.mysql",
        "mysql",
    ),
}


def connect(entry: dict[str, Any], database: str | None = None) -> Any:
    """Return an autocommit DB-API connection to entry's database (or another one)."""
    name = database or entry["NAME"]
    if entry["ENGINE"].endswith("postgresql"):
        import psycopg

        return psycopg.connect(
            dbname=name,
            user=entry["USER"],
            password=entry["PASSWORD"] or None,
            host=entry["HOST"],
            port=entry["PORT"] or None,
            autocommit=True,
        )
    import MySQLdb  # type: ignore[import-untyped]

    connection = MySQLdb.connect(
        user=entry["USER"],
        password=entry["PASSWORD"],
        host=entry["HOST"],
        port=int(entry["PORT"] or 3306),
        database=name,
        charset="utf8mb4",
    )
    connection.autocommit(True)
    return connection


def execute(connection: Any, sql: str, params: Any = None) -> Any:
    """Run one statement and return its cursor."""
    cursor = connection.cursor()
    cursor.execute(sql, params)
    return cursor


@contextmanager
def scratch_database(backend: str, name: str) -> Iterator[dict[str, Any]]:
    """Yield a DATABASES entry for a new, empty database called name; drop it on exit."""
    if backend not in SERVERS:
        raise SystemExit(f"Unknown backend {backend!r}")
    variable, default, engine, admin_db = SERVERS[backend]
    url = urlsplit(os.environ.get(variable, default))
    entry: dict[str, Any] = {
        "ENGINE": engine,
        "NAME": name,
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or ""),
    }
    if backend == "postgresql":
        create = f'CREATE DATABASE "{name}"'
        drop = f'DROP DATABASE IF EXISTS "{name}"'
    else:
        entry["OPTIONS"] = {"charset": "utf8mb4"}
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        drop = f"DROP DATABASE IF EXISTS `{name}`"

    def admin(sql: str) -> None:
        connection = connect(entry, admin_db)
        try:
            execute(connection, sql)
        finally:
            connection.close()

    admin(drop)
    admin(create)
    try:
        yield entry
    finally:
        admin(drop)
