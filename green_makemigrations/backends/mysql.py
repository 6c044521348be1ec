"""MariaDB and MySQL: no transactional DDL, so every step is one statement or re-runnable.

Identifiers longer than 64 characters are refused and quoted with backticks;
session settings are ``@@SESSION`` variables (whole numbers). A view takes a
renamed table's place in one ``RENAME TABLE`` (views.py), the renamed columns
of its many-to-many tables are added beside the old ones (m2m_columns.py,
MariaDB/MySQL only), and a foreign key is added in place with
``foreign_key_checks`` off once a query checked its rows (foreign_keys.py).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from .base import BaseBackend, RunLock


class NamedLock(RunLock):
    """A ``GET_LOCK()`` lock of the session."""

    def __init__(self, connection: Any, name: str) -> None:
        super().__init__(connection)
        # GET_LOCK() names are server-wide (64 characters at most): one per database.
        database = str(connection.settings_dict["NAME"])
        self.name = f"{name}.{hashlib.sha256(database.encode()).hexdigest()[:32]}"

    def try_acquire(self) -> bool:
        """Take the lock with ``GET_LOCK()``, not waiting."""
        return self._value("SELECT GET_LOCK(%s, 0)", [self.name]) == 1

    def holder(self) -> str:
        """Say which connection holds the lock."""
        holder = self._value("SELECT IS_USED_LOCK(%s)", [self.name])
        if holder is None:
            return "its holder has just released it"
        return f"GET_LOCK('{self.name}') held by connection {holder}"

    def release(self) -> None:
        """Release the lock with ``RELEASE_LOCK()``."""
        self._value("SELECT RELEASE_LOCK(%s)", [self.name])


class DatabaseBackend(BaseBackend):
    """The statements and facts of MariaDB and MySQL."""

    vendor = "mysql"

    # -- identifiers -----------------------------------------------------------------

    quote_character: ClassVar[str] = "`"

    # -- session settings ------------------------------------------------------------

    def read_setting_sql(self, name: str) -> str:
        """Return the query of the session variable name."""
        return f"SELECT @@SESSION.{name}"

    def write_setting_sql(self, name: str, value: str) -> tuple[str, list[Any]]:
        """Return the statement setting session variable name to value, a whole number."""
        return f"SET SESSION {name} = %s", [int(value)]

    # -- lock timeouts ---------------------------------------------------------------

    def applied_lock_timeout(self, seconds: float) -> float:
        """Return seconds rounded up to whole seconds, at least one (as the server counts)."""
        return float(max(1, math.ceil(seconds)))

    def lock_timeout_settings(self, seconds: float) -> dict[str, str]:
        """Return the metadata lock and the InnoDB row lock wait timeouts, in whole seconds."""
        whole = str(int(seconds))
        return {"lock_wait_timeout": whole, "innodb_lock_wait_timeout": whole}

    # -- the migrate run lock --------------------------------------------------------

    def run_lock(self, connection: Any, name: str) -> RunLock | None:
        """Return a ``GET_LOCK()`` lock of the session, one per database."""
        return NamedLock(connection, name)

    # -- column syncs ----------------------------------------------------------------

    # A BEFORE INSERT and a BEFORE UPDATE trigger.
    sync_trigger_suffixes: ClassVar[tuple[str, ...]] = ("_i", "_u")

    def create_sync_triggers_sql(
        self, names: list[str], table: str, pk: str, source: str, target: str
    ) -> list[str]:
        """Return the ``BEFORE INSERT`` and ``BEFORE UPDATE`` triggers."""
        insert, update = names
        s, t = source, target
        return [
            f"CREATE TRIGGER {insert} BEFORE INSERT ON {table} FOR EACH ROW "
            f"BEGIN IF NEW.{t} IS NULL THEN SET NEW.{t} = NEW.{s}; "
            f"ELSE SET NEW.{s} = NEW.{t}; END IF; END",
            f"CREATE TRIGGER {update} BEFORE UPDATE ON {table} FOR EACH ROW "
            f"BEGIN IF NOT (NEW.{t} <=> OLD.{t}) THEN SET NEW.{s} = NEW.{t}; "
            f"ELSEIF NOT (NEW.{s} <=> OLD.{s}) THEN SET NEW.{t} = NEW.{s}; END IF; END",
        ]

    def sync_triggers_sql(self, table: str, names: list[str]) -> tuple[str, list[Any]]:
        """Return the query of ``information_schema.TRIGGERS`` in the current database."""
        marks = ", ".join(["%s"] * len(names))
        return (
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
            f"WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME IN ({marks})",
            names,
        )

    def is_distinct_sql(self, first: str, second: str) -> str:
        """Return the negated null-safe equality ``<=>``."""
        return f"NOT ({first} <=> {second})"

    def drop_and_rename_column_sql(
        self, table: str, dropped: str, column: str, new_name: str
    ) -> str:
        """Return one ``ALTER TABLE`` (no transactional DDL: no moment without the column)."""
        return f"ALTER TABLE {table} DROP COLUMN {dropped}, RENAME COLUMN {column} TO {new_name}"

    @contextmanager
    def table_held(self, schema_editor: Any, table: str) -> Iterator[None]:
        """Hold ``LOCK TABLES … WRITE`` for the block (DDL commits as it goes)."""
        schema_editor.execute(f"LOCK TABLES {self.quote_name(table)} WRITE")
        try:
            yield
        finally:
            schema_editor.execute("UNLOCK TABLES")

    # -- foreign keys added to existing tables ---------------------------------------

    adds_foreign_keys_unchecked: ClassVar[bool] = True

    def foreign_key_checks_sql(self, enabled: bool) -> str:
        """Return the statement setting the session's ``foreign_key_checks``."""
        return f"SET SESSION foreign_key_checks = {int(enabled)}"

    # -- views under a renamed table's old names -------------------------------------

    swaps_views_by_rename: ClassVar[bool] = True

    def rename_tables_sql(self, renames: list[tuple[str, str]]) -> str:
        """Return ``RENAME TABLE``, which renames views too, atomically."""
        return "RENAME TABLE " + ", ".join(f"{old} TO {new}" for old, new in renames)

    # -- what the database does with the rows and values it is given ----------------

    fills_new_columns_with_implicit_defaults: ClassVar[bool] = True
    # UUID() per row; RAND() once for all the rows.
    per_row_defaults: ClassVar[tuple[frozenset[str], frozenset[str]] | None] = (
        frozenset({"RandomUUID"}),
        frozenset({"uuid"}),
    )
