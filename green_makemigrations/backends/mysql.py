"""MariaDB and MySQL: no transactional DDL, so every step is one statement or re-runnable.

Identifiers longer than 64 characters are refused and quoted with backticks;
session settings are ``@@SESSION`` variables (whole numbers).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .base import BaseBackend


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
