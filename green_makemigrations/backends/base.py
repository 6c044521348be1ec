"""The interface every backend implements, and what the backends share.

A backend answers two kinds of questions, grouped below by the module that
asks them:

- *facts* about the database, class attributes read as Django's
  ``connection.features`` are (``cuts_long_names``: does it cut a long
  identifier or refuse it?), from which the operations choose their steps;
- *statements*: methods returning SQL (``…_sql``), or context managers and
  helpers that run it, for the steps the operations chose.

The base class holds the portable statements and the conservative facts
(no concurrent DDL, no view swaps: Django's own steps, made re-runnable). A
statement a backend needs only behind a fact that is false elsewhere (``NOT
VALID``, ``RENAME TABLE`` of several tables) raises NotSupportedError here,
naming what the database lacks. The abstract methods (the run lock, the
sync triggers) and ``vendor``/``sync_trigger_suffixes`` every backend defines.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar, NoReturn

from django.db import NotSupportedError, transaction

from .. import session


class RunLock:
    """The run lock of one database (runlock.py): try to take it, say who holds it, release it."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def try_acquire(self) -> bool:
        """Take the lock if it is free; return whether it was taken."""
        raise NotImplementedError  # pragma: no cover

    def holder(self) -> str:
        """Describe the run that holds the lock, as far as the database tells."""
        raise NotImplementedError  # pragma: no cover

    def release(self) -> None:
        """Release the lock."""
        raise NotImplementedError  # pragma: no cover

    def _value(self, sql: str, params: list[int | str]) -> object:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else row[0]


class BaseBackend(abc.ABC):
    """The statements and facts of one database vendor."""

    #: Django's ``connection.vendor`` of the databases this backend serves.
    vendor: ClassVar[str]

    def _unsupported(self, what: str) -> NoReturn:
        raise NotSupportedError(f"{self.vendor} databases have no {what}.")

    # -- identifiers (identifiers.py) ------------------------------------------------

    #: The character an identifier is quoted with; doubled inside a name.
    quote_character: ClassVar[str] = '"'
    #: Whether the database cuts a name longer than its limit (rather than refusing it).
    cuts_long_names: ClassVar[bool] = False

    def identifier_limit(self, connection: Any) -> tuple[int | None, str]:
        """Return the longest identifier the database takes and its unit, "bytes" or "chars"."""
        return connection.ops.max_name_length(), "chars"

    def stored_name(self, name: str) -> str:
        """Return the name the database stores for an identifier sent as name."""
        return name

    def quote_name(self, name: str) -> str:
        """Return name quoted as an identifier, any quote character inside doubled."""
        character = self.quote_character
        return character + name.replace(character, character * 2) + character

    # -- session settings (session.py) -----------------------------------------------

    def read_setting_sql(self, name: str) -> str:
        """Return the query of the session's value of setting name (one row, one column)."""
        self._unsupported("session settings")

    def write_setting_sql(self, name: str, value: str) -> tuple[str, list[Any]]:
        """Return the statement setting the session's setting name to value, and its params."""
        self._unsupported("session settings")

    # -- lock timeouts (locks.py) ----------------------------------------------------

    def applied_lock_timeout(self, seconds: float) -> float:
        """Return the lock timeout, in seconds, that the database applies for seconds.

        Counted in milliseconds, at least one.
        """
        return max(1, round(seconds * 1000)) / 1000

    def lock_timeout_settings(self, seconds: float) -> dict[str, str]:
        """Return the session settings giving up a lock wait after seconds (as applied)."""
        return {}

    def lock_timeout(self, connection: Any, seconds: float) -> AbstractContextManager[None]:
        """Return a context setting connection's lock timeout to seconds (as applied), then back."""
        return session.changed_settings(connection, self.lock_timeout_settings(seconds))

    def write_lock_first(self, connection: Any) -> AbstractContextManager[None]:
        """Return a context in which connection's transactions take the write lock at BEGIN.

        Only a database with one write lock needs it; elsewhere nothing changes.
        """
        return contextlib.nullcontext()

    # -- the migrate run lock (runlock.py) -------------------------------------------

    @abc.abstractmethod
    def run_lock(self, connection: Any, name: str) -> RunLock | None:
        """Return the lock called name each migrate run holds, or None where none is needed.

        The lock must go with the session or the process, so that a run
        that is killed releases it.
        """

    # -- WAL and page writes of a backfill or index build (wal.py, writeback.py) -----

    def compressed_wal(self, connection: Any, method: str) -> AbstractContextManager[None]:
        """Return a context compressing the session's write-ahead log with method, if it can."""
        return contextlib.nullcontext()

    def flushed_writes(self, connection: Any, amount: str) -> AbstractContextManager[None]:
        """Return a context handing the session's page writes to the disk every amount."""
        return contextlib.nullcontext()

    # -- batched backfills (backfill.py) ---------------------------------------------
    # Table and column names come quoted; assignments and conditions are SQL.

    def update_sql(self, table: str, assignments: str, condition: str) -> str:
        """Return the ``UPDATE`` of every row a backfill changes, in one statement."""
        return f"UPDATE {table} SET {assignments} WHERE {condition}"

    def key_bounds_sql(self, table: str, pk: str) -> tuple[str, str]:
        """Return the queries of the table's first and last primary key."""
        return (
            f"SELECT {pk} FROM {table} ORDER BY {pk} LIMIT 1",
            f"SELECT {pk} FROM {table} ORDER BY {pk} DESC LIMIT 1",
        )

    def batch_end_sql(self, table: str, pk: str, after: str, batch_size: int) -> str:
        """Return the query of the key batch_size keys on from the last batch's (params: it, end).

        after is ``>=`` for the first batch (its first key included), ``>`` then.
        """
        return (
            f"SELECT {pk} FROM {table} WHERE {pk} {after} %s AND "
            f"{pk} <= %s ORDER BY {pk} LIMIT 1 OFFSET {batch_size - 1}"
        )

    def batch_update_sql(
        self, table: str, assignments: str, condition: str, pk: str, after: str
    ) -> str:
        """Return the ``UPDATE`` of one batch (params: its own, then low and high)."""
        return (
            f"UPDATE {table} SET {assignments} WHERE ({condition}) AND "
            f"{pk} {after} %s AND {pk} <= %s"
        )

    # -- column syncs: triggers keeping two columns of a table equal (sync.py) -------
    # Names come quoted. On insert a value in target wins, else target gets
    # source's; on update the column that changed is copied to the other.

    #: The suffixes of a sync's triggers after the sync's name ("": the name itself).
    sync_trigger_suffixes: ClassVar[tuple[str, ...]]

    @abc.abstractmethod
    def create_sync_triggers_sql(
        self, names: list[str], table: str, pk: str, source: str, target: str
    ) -> list[str]:
        """Return the statements creating the triggers called names (one per suffix)."""

    @abc.abstractmethod
    def sync_triggers_sql(self, table: str, names: list[str]) -> tuple[str, list[Any]]:
        """Return the query of those of the triggers called names that exist, and its params.

        names are unquoted; table is quoted.
        """

    def drop_sync_trigger_sql(self, name: str, table: str) -> list[str]:
        """Return the statements dropping the sync trigger called name, if it exists."""
        return [f"DROP TRIGGER IF EXISTS {name}"]

    @abc.abstractmethod
    def is_distinct_sql(self, first: str, second: str) -> str:
        """Return SQL that is true when two columns differ, NULL counting as a value."""

    def drop_and_rename_column_sql(
        self, table: str, dropped: str, column: str, new_name: str
    ) -> str | None:
        """Return one statement dropping a column and renaming another, or None.

        None: the schema editor's remove_field() and alter_field() do it, in a
        transaction (see table_held()).
        """
        return None

    @contextlib.contextmanager
    def table_held(self, schema_editor: Any, table: str) -> Iterator[None]:
        """Run the block so that no other session writes table meanwhile: in one transaction."""
        with transaction.atomic(using=schema_editor.connection.alias):
            yield

    # -- online index and constraint DDL (operations.py, foreign_keys.py) ------------
    # Names and tables come quoted, but for the catalog queries' params.

    #: Whether indexes are built and dropped ``CONCURRENTLY`` and constraints added
    #: ``NOT VALID``, then validated: statements that run outside a transaction, so
    #: a migration holding them is non-atomic. Elsewhere the operations do what
    #: Django's do, made re-runnable.
    concurrent_ddl: ClassVar[bool] = False

    def index_state_sql(self) -> str:
        """Return the query of whether the index called %s (as stored) is valid; no row if none."""
        self._unsupported("concurrently built indexes")

    def constraint_state_sql(self) -> str:
        """Return the query of whether constraint %s of table %s (as stored) is validated."""
        self._unsupported("NOT VALID constraints")

    def drop_index_concurrently_sql(self, name: str) -> str:
        """Return the statement dropping index name, if it exists, without blocking writes."""
        self._unsupported("concurrent index drops")

    def not_valid_sql(self, statement: str) -> str:
        """Return statement (adding a constraint) adding it unchecked for the rows there."""
        self._unsupported("NOT VALID constraints")

    def validate_constraint_sql(self, table: str, name: str) -> str:
        """Return the statement checking the rows of a constraint added ``NOT VALID``."""
        self._unsupported("NOT VALID constraints")

    def unique_index_steps(self, schema_editor: Any, statement: Any) -> tuple[str, str | None]:
        """Split Django's unique statement into a concurrent index build and its attachment.

        Return the build, and the statement attaching the index as the
        constraint, or None where Django makes a bare unique index.
        """
        self._unsupported("concurrently built unique indexes")

    def drop_constraint_if_exists_sql(self, table: str, name: str) -> str:
        """Return the statement dropping constraint name of table if it exists."""
        return f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"

    def add_not_null_check_sql(self, table: str, name: str, column: str) -> str:
        """Return the statement adding ``CHECK (column IS NOT NULL)``, unchecked for the rows."""
        self._unsupported("NOT VALID constraints")

    # -- foreign keys added to existing tables (foreign_keys.py) ---------------------

    #: Whether a foreign key is added in place with the server's checks off, after
    #: a query checked the rows: the server would copy the table to check them.
    adds_foreign_keys_unchecked: ClassVar[bool] = False

    def dangling_reference_sql(
        self, table: str, column: str, target_table: str, target_column: str
    ) -> str:
        """Return the query of one value of table.column that target_table.target_column lacks."""
        return (
            f"SELECT t.{column} FROM {table} t LEFT JOIN "
            f"{target_table} r ON r.{target_column} = t.{column} "
            f"WHERE t.{column} IS NOT NULL AND r.{target_column} IS NULL LIMIT 1"
        )

    def foreign_key_checks_sql(self, enabled: bool) -> str:
        """Return the statement turning the session's foreign key checks on or off."""
        self._unsupported("session switch of foreign key checks")

    # -- unique constraints merged with a field's own (merged_unique.py) -------------

    #: Whether identical unique constraints declared in one ``CREATE TABLE`` become
    #: one constraint (a field's ``unique=True`` and a one-field UniqueConstraint).
    merges_identical_unique_constraints: ClassVar[bool] = False

    def other_unique_index_sql(self) -> str:
        """Return the query of another valid, full unique index on exactly one column.

        Params: the table, the index to leave out, the column (as stored).
        """
        self._unsupported("merged unique constraints")

    def rename_constraint_sql(self, table: str, name: str, new_name: str) -> str:
        """Return the statement renaming constraint name of table."""
        return f"ALTER TABLE {table} RENAME CONSTRAINT {name} TO {new_name}"

    # -- views under a renamed table's old names (views.py, mirror.py) ---------------

    #: Whether a view cannot stand in for a table the old release writes (SQLite
    #: reports neither the key of a row inserted through a view nor the rows an
    #: update changed): the old name is a mirror table kept in sync by triggers.
    views_are_mirrors: ClassVar[bool] = False
    #: Whether DDL commits as it goes, so a view takes a renamed table's place (and
    #: a table a view's) in one ``RENAME TABLE``, a view is replaced in one
    #: statement, and a many-to-many table's renamed columns are added beside the
    #: old ones (m2m_columns.py) rather than renamed.
    swaps_views_by_rename: ClassVar[bool] = False
    #: Whether a rename locks the tables referencing the renamed one first, in one
    #: statement, so that it waits for the application's inserts into them
    #: instead of deadlocking with them.
    locks_referencing_tables_first: ClassVar[bool] = False

    def create_view_sql(self, name: str, select: str) -> str:
        """Return the statement creating view name of query select."""
        return f"CREATE VIEW {name} AS {select}"

    def replace_view_sql(self, name: str, select: str) -> str:
        """Return the statement creating view name, or replacing the one there, in one go."""
        return f"CREATE OR REPLACE VIEW {name} AS {select}"

    def drop_view_sql(self, name: str, *, if_exists: bool = True) -> str:
        """Return the statement dropping view name."""
        return f"DROP VIEW IF EXISTS {name}" if if_exists else f"DROP VIEW {name}"

    def rename_tables_sql(self, renames: list[tuple[str, str]]) -> str:
        """Return one statement renaming each (old, new) of renames, tables or views, in order."""
        self._unsupported("renames of several tables in one statement")

    def lock_tables_sql(self, tables: list[str]) -> str:
        """Return the statement locking tables exclusively, in their order."""
        self._unsupported("statement locking several tables")

    def not_valid_foreign_keys_sql(self) -> str:
        """Return the query of (table, name) of each NOT VALID foreign key to table %s."""
        self._unsupported("NOT VALID constraints")

    # -- running migrations (executor.py) --------------------------------------------

    #: Whether the schema editor turns constraint checks off when it starts, which
    #: can only be done outside a transaction: a transaction around it turns them
    #: off first.
    schema_editor_disables_constraint_checks: ClassVar[bool] = False

    # -- what the database does with the rows and values it is given (verify/) ------

    #: Whether a column refuses a value that does not fit its type (SQLite's type
    #: affinity stores what it is given).
    enforces_column_types: ClassVar[bool] = True
    #: Whether ``ADD COLUMN`` of a NOT NULL column without a default fills the rows
    #: there with its type's implicit default (0, '') instead of failing on them; it
    #: stops only where that value breaks a foreign key.
    fills_new_columns_with_implicit_defaults: ClassVar[bool] = False
    #: The expressions and SQL functions of a ``db_default`` that ``ADD COLUMN``
    #: evaluates once per row it fills (class names, lower-case function names);
    #: None: every random one (verify/schema.py).
    per_row_defaults: ClassVar[tuple[frozenset[str], frozenset[str]] | None] = None
    #: Whether a database is a file (a scratch database is a temporary file).
    database_is_a_file: ClassVar[bool] = False
