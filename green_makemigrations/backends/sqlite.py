"""SQLite: mirror tables for views, ``AFTER`` triggers, the busy timeout, file locks.

SQLite has no identifier limit and no session settings; a migration's
transactions take the write lock when they begin.
"""

from __future__ import annotations

from .base import BaseBackend


class DatabaseBackend(BaseBackend):
    """The statements and facts of SQLite."""

    vendor = "sqlite"
