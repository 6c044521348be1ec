"""What a migration that stopped says: where, why, and what to do.

One message, no traceback (``migrate`` prints a GreenMigrationsError as a
CommandError): the migration, the operation that was running, what the
database said (with the rows it is about where the database does not name
them), and how to go on.
"""

from __future__ import annotations

import re

from django.db.migrations import Migration

from .resumable import Progress

# SQLite's messages name the column only; Django rebuilds a table as new__<table>.
SQLITE_CONSTRAINT = re.compile(
    r"(?P<kind>NOT NULL|UNIQUE) constraint failed: (?:new__)?(?P<table>[^.\s]+)\.(?P<columns>.+)$"
)
POSTGRESQL_NOT_NULL = "23502"


def lock_retries_exhausted(
    migration: Migration, progress: Progress, error: BaseException, timeout: float, tries: int
) -> str:
    """Return the one line of a migration that timed out on a lock on every try."""
    return (
        f"{migration.app_label}.{migration.name}: {running(migration, progress)} could not "
        f"get a lock within {timeout:g} s on any of {tries} tries ({first_line(error)}); "
        "run the same command again to continue."
    )


def data_error(
    migration: Migration, progress: Progress, error: BaseException, transactional: bool
) -> str:
    """Return what a migration stopped by rows the database refused says.

    transactional says whether the failed attempt was rolled back whole.
    """
    backwards = progress.backwards
    if transactional:
        kept = "nothing of it was undone" if backwards else "nothing of it was kept"
    elif progress.done:
        numbers = ", ".join(str(index + 1) for index in sorted(progress.done))
        kept = f"operations {numbers} are {'undone' if backwards else 'done'}; a re-run finishes it"
    else:
        kept = "a re-run finishes what it started"
    recorded = "still recorded as applied" if backwards else "not recorded as applied"
    message = " ".join(line.strip() for line in error_text(error).splitlines() if line.strip())
    return (
        f"{migration.app_label}.{migration.name}: {running(migration, progress)} stopped on "
        f"rows of the table: {message.rstrip('.')}{rows_of(error)}. The migration is "
        f"{recorded} ({kept}). Correct or remove the rows the database names, then run the "
        "same command again to continue."
    )


def not_supported(migration: Migration, progress: Progress, error: BaseException) -> str:
    """Return what a migration the database cannot run as written says."""
    message = error_text(error).strip()
    where = running(migration, progress)
    if progress.current is not None:
        # This package's refusals begin with the operation's description.
        described = migration.operations[progress.current].describe()
        message = message.removeprefix(f"{described}: ")
    return f"{migration.app_label}.{migration.name}: {where}: {message}"


def running(migration: Migration, progress: Progress) -> str:
    """Return which operation of migration was running, numbered from 1, described."""
    if progress.current is None:
        # SQLite's BEGIN IMMEDIATE waits for the write lock.
        first = migration.operations[0].describe() if migration.operations else "none"
        return f"beginning its transaction, before operation 1 ({first})"
    operation = migration.operations[progress.current]
    return f"operation {progress.current + 1} ({operation.describe()})"


def error_text(error: BaseException) -> str:
    """Return the database's message of error (MariaDB's comes with its error number)."""
    args = error.args
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[1]
    return str(error)


def first_line(error: BaseException) -> str:
    """Return the first line of an error's text (PostgreSQL adds context lines)."""
    return (error_text(error).strip().splitlines() or [type(error).__name__])[0]


def rows_of(error: BaseException) -> str:
    """Return which rows a constraint error is about, where the database does not say it."""
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    if getattr(cause, "sqlstate", None) == POSTGRESQL_NOT_NULL and diag is not None:
        if diag.table_name and diag.column_name:
            return f" (the rows of {diag.table_name} where {diag.column_name} IS NULL)"
    match = SQLITE_CONSTRAINT.search(error_text(error).strip())
    if match is None:
        return ""
    columns = ", ".join(column.split(".")[-1] for column in match.group("columns").split(", "))
    if match.group("kind") == "NOT NULL":
        return f" (the rows of {match.group('table')} where {columns} IS NULL)"
    return f" (the rows of {match.group('table')} that share a value of {columns})"
