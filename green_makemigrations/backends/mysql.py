"""MariaDB and MySQL: no transactional DDL, so every step is one statement or re-runnable.

Identifiers longer than 64 characters are refused and quoted with backticks;
session settings are ``@@SESSION`` variables (whole numbers).
"""

from __future__ import annotations

import hashlib
import math
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
