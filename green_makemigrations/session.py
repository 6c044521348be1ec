"""Read and set a run-time setting of a migration's database session.

PostgreSQL's ``SHOW`` / ``SET``, MariaDB/MySQL's session variables (whole
numbers); SQLite has no such settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from .backends import get_backend


def read_setting(connection: BaseDatabaseWrapper, name: str) -> str:
    """Return the session's value of setting name, as text."""
    with connection.cursor() as cursor:
        cursor.execute(get_backend(connection).read_setting_sql(name))
        return str(cursor.fetchone()[0])


def write_setting(connection: BaseDatabaseWrapper, name: str, value: str) -> None:
    """Set the session's setting name to value (a whole number on MariaDB/MySQL)."""
    with connection.cursor() as cursor:
        cursor.execute(*get_backend(connection).write_setting_sql(name, value))


@contextmanager
def changed_settings(
    connection: BaseDatabaseWrapper, settings: Mapping[str, str]
) -> Iterator[None]:
    """Set the session's settings (name: value) for the block, then restore them."""
    previous = {name: read_setting(connection, name) for name in settings}
    for name, value in settings.items():
        write_setting(connection, name, value)
    try:
        yield
    except BaseException:
        # The block's error is the one to report. It may have aborted the
        # transaction, where PostgreSQL refuses every statement ("current
        # transaction is aborted"), the SET too; its rollback undoes our SET.
        with contextlib.suppress(DatabaseError):
            for name, value in previous.items():
                write_setting(connection, name, value)
        raise
    for name, value in previous.items():
        write_setting(connection, name, value)


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
