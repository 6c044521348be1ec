"""PostgreSQL: concurrent index builds, ``NOT VALID`` constraints, trigger functions.

Identifiers are cut at 63 bytes; migrations holding ``CONCURRENTLY`` or
``VALIDATE`` steps run outside a transaction; session settings are read with
``SHOW`` and written with ``SET`` (a lock timeout, WAL compression and
write-back during a backfill); a rename locks the referencing tables first.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from django.db.backends.ddl_references import Statement

from ..identifiers import clip, dollar_quote
from ..session import unless_chosen
from .base import BaseBackend, RunLock

# PostgreSQL keeps the first 63 bytes of a longer identifier (NAMEDATALEN - 1).
MAX_NAME_BYTES = 63
# wal.py: the setting, and the method every build has (pglz).
WAL_COMPRESSION = "wal_compression"
WAL_COMPRESSION_FALLBACK = "on"
# writeback.py: the setting.
BACKEND_FLUSH_AFTER = "backend_flush_after"


def advisory_keys(name: str) -> tuple[int, int]:
    """Return the two keys of the advisory lock called name: positive 32-bit numbers.

    The two-key form of the advisory lock functions; advisory locks are per
    database already.
    """
    digest = hashlib.sha256(name.encode()).digest()
    return (
        int.from_bytes(digest[:4], "big") & 0x7FFFFFFF,
        int.from_bytes(digest[4:8], "big") & 0x7FFFFFFF,
    )


class AdvisoryLock(RunLock):
    """A session-level advisory lock."""

    def __init__(self, connection: Any, name: str) -> None:
        super().__init__(connection)
        self.keys: list[int | str] = [*advisory_keys(name)]

    def try_acquire(self) -> bool:
        """Take the lock with ``pg_try_advisory_lock()``."""
        return bool(self._value("SELECT pg_try_advisory_lock(%s, %s)", self.keys))

    def holder(self) -> str:
        """Say which server process holds the lock, from where, since when."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.pid, a.application_name, a.client_addr, "
                "EXTRACT(EPOCH FROM now() - a.backend_start) "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
                "AND l.classid = %s::oid AND l.objid = %s::oid "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                self.keys,
            )
            row = cursor.fetchone()
        if row is None:
            return "its holder has just released it"
        pid, application, address, seconds = row
        client = f" from {address}" if address else ""
        name = f" ({application})" if application else ""
        return (
            f"advisory lock held by server process {pid}{name}{client}, "
            f"connected {seconds:.0f} s ago"
        )

    def release(self) -> None:
        """Release the lock with ``pg_advisory_unlock()``."""
        self._value("SELECT pg_advisory_unlock(%s, %s)", self.keys)


class DatabaseBackend(BaseBackend):
    """The statements and facts of PostgreSQL."""

    vendor = "postgresql"

    # -- identifiers -----------------------------------------------------------------

    cuts_long_names: ClassVar[bool] = True

    def identifier_limit(self, connection: Any) -> tuple[int | None, str]:
        """Return 63 bytes: PostgreSQL counts UTF-8 bytes, not characters."""
        return MAX_NAME_BYTES, "bytes"

    def stored_name(self, name: str) -> str:
        """Return the first 63 bytes of name (a character is never cut in two)."""
        return clip(name, MAX_NAME_BYTES)

    # -- session settings ------------------------------------------------------------

    def read_setting_sql(self, name: str) -> str:
        """Return ``SHOW name``."""
        return f"SHOW {name}"

    def write_setting_sql(self, name: str, value: str) -> tuple[str, list[Any]]:
        """Return ``SET name = value``."""
        return f"SET {name} = %s", [value]

    # -- lock timeouts ---------------------------------------------------------------

    def lock_timeout_settings(self, seconds: float) -> dict[str, str]:
        """Return ``lock_timeout`` in milliseconds."""
        return {"lock_timeout": f"{round(seconds * 1000)}ms"}

    # -- the migrate run lock --------------------------------------------------------

    def run_lock(self, connection: Any, name: str) -> RunLock | None:
        """Return an advisory lock of the session."""
        return AdvisoryLock(connection, name)

    # -- WAL and page writes ---------------------------------------------------------

    def compressed_wal(self, connection: Any, method: str) -> AbstractContextManager[None]:
        """Set ``wal_compression`` to method (or ``on``) while the server's default is off.

        The setting needs a superuser or ``GRANT SET ON PARAMETER``: refused,
        the server's value stays.
        """
        return unless_chosen(
            connection, WAL_COMPRESSION, (method, WAL_COMPRESSION_FALLBACK), default="off"
        )

    def flushed_writes(self, connection: Any, amount: str) -> AbstractContextManager[None]:
        """Set ``backend_flush_after`` to amount while the session has the default (0)."""
        return unless_chosen(connection, BACKEND_FLUSH_AFTER, (amount,), default="0")

    # -- column syncs ----------------------------------------------------------------

    # One trigger function and its trigger, both under the sync's name.
    sync_trigger_suffixes: ClassVar[tuple[str, ...]] = ("",)

    def create_sync_triggers_sql(
        self, names: list[str], table: str, pk: str, source: str, target: str
    ) -> list[str]:
        """Return a ``BEFORE INSERT OR UPDATE`` trigger function and its trigger."""
        (name,) = names
        s, t = source, target
        body = (
            "\nBEGIN\n"
            "  IF TG_OP = 'INSERT' THEN\n"
            f"    IF NEW.{t} IS NULL THEN NEW.{t} := NEW.{s}; ELSE NEW.{s} := NEW.{t}; END IF;\n"
            f"  ELSIF NEW.{t} IS DISTINCT FROM OLD.{t} THEN NEW.{s} := NEW.{t};\n"
            f"  ELSIF NEW.{s} IS DISTINCT FROM OLD.{s} THEN NEW.{t} := NEW.{s};\n"
            "  END IF;\n"
            "  RETURN NEW;\n"
            "END\n"
        )
        function = (
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            + dollar_quote(body)
        )
        trigger = (
            f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
        return [function, trigger]

    def sync_triggers_sql(self, table: str, names: list[str]) -> tuple[str, list[Any]]:
        """Return the query of ``pg_trigger``."""
        return (
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = ANY(%s)",
            [table, names],
        )

    def drop_sync_trigger_sql(self, name: str, table: str) -> list[str]:
        """Return the statements dropping the trigger and its function."""
        return [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]

    def is_distinct_sql(self, first: str, second: str) -> str:
        """Return ``IS DISTINCT FROM``."""
        return f"{first} IS DISTINCT FROM {second}"

    # -- online index and constraint DDL ---------------------------------------------

    concurrent_ddl: ClassVar[bool] = True

    def index_state_sql(self) -> str:
        """Return the query of ``pg_index.indisvalid`` in the current schema."""
        return (
            "SELECT i.indisvalid FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND n.nspname = current_schema()"
        )

    def constraint_state_sql(self) -> str:
        """Return the query of ``pg_constraint.convalidated`` in the current schema."""
        return (
            "SELECT c.convalidated FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE c.conname = %s AND t.relname = %s AND n.nspname = current_schema()"
        )

    def drop_index_concurrently_sql(self, name: str) -> str:
        """Return ``DROP INDEX CONCURRENTLY IF EXISTS``."""
        return f"DROP INDEX CONCURRENTLY IF EXISTS {name}"

    def not_valid_sql(self, statement: str) -> str:
        """Return statement followed by ``NOT VALID``."""
        return f"{statement} NOT VALID"

    def validate_constraint_sql(self, table: str, name: str) -> str:
        """Return ``VALIDATE CONSTRAINT``, which lets reads and writes go on."""
        return f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}"

    def unique_index_steps(self, schema_editor: Any, statement: Any) -> tuple[str, str | None]:
        """Return ``CREATE UNIQUE INDEX CONCURRENTLY`` and ``ADD CONSTRAINT … USING INDEX``.

        The build has Django's own parts (name, columns or expressions,
        opclasses, INCLUDE, NULLS [NOT] DISTINCT, WHERE); the attachment
        takes its lock for an instant.
        """
        template = schema_editor.sql_create_unique_index.replace(
            "CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY", 1
        )
        create = str(Statement(template, **statement.parts))
        if statement.template == schema_editor.sql_create_unique_index:
            return create, None
        table, name = statement.parts["table"], statement.parts["name"]
        attach = (
            f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}"
            f"{statement.parts.get('deferrable', '')}"
        )
        return create, attach

    def add_not_null_check_sql(self, table: str, name: str, column: str) -> str:
        """Return ``ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID``."""
        return f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({column} IS NOT NULL) NOT VALID"

    # -- unique constraints merged with a field's own --------------------------------

    merges_identical_unique_constraints: ClassVar[bool] = True

    def other_unique_index_sql(self) -> str:
        """Return the query of ``pg_index``: no partial or expression index counts."""
        return (
            "SELECT 1 FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] "
            "WHERE t.relname = %s AND n.nspname = current_schema() AND c.relname <> %s "
            "AND i.indisunique AND i.indisvalid AND i.indnatts = 1 "
            "AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = %s"
        )

    # -- views under a renamed table's old names -------------------------------------

    locks_referencing_tables_first: ClassVar[bool] = True

    def lock_tables_sql(self, tables: list[str]) -> str:
        """Return ``LOCK TABLE … IN ACCESS EXCLUSIVE MODE``."""
        return f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE"

    def not_valid_foreign_keys_sql(self) -> str:
        """Return the query of ``pg_constraint``."""
        return (
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND NOT convalidated AND confrelid = to_regclass(%s)"
        )
