"""PostgreSQL: concurrent index builds, ``NOT VALID`` constraints, trigger functions.

Identifiers are cut at 63 bytes; migrations holding ``CONCURRENTLY`` or
``VALIDATE`` steps run outside a transaction; session settings are read with
``SHOW`` and written with ``SET``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..identifiers import clip
from .base import BaseBackend

# PostgreSQL keeps the first 63 bytes of a longer identifier (NAMEDATALEN - 1).
MAX_NAME_BYTES = 63


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
