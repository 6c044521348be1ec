"""MariaDB and MySQL: no transactional DDL, so every step is one statement or re-runnable.

Identifiers longer than 64 characters are refused and quoted with backticks;
session settings are ``@@SESSION`` variables (whole numbers).
"""

from __future__ import annotations

from typing import ClassVar

from .base import BaseBackend


class DatabaseBackend(BaseBackend):
    """The statements and facts of MariaDB and MySQL."""

    vendor = "mysql"

    # -- identifiers -----------------------------------------------------------------

    quote_character: ClassVar[str] = "`"
