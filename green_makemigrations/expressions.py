"""Database expressions for ``db_default``: their import path is permanent.

Generated migrations may say ``db_default=green_makemigrations.expressions
.RandomUUID()``, so that the database fills a column the running release
does not write.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler


class RandomUUID(models.Func):
    """A random UUID computed by the database (the equivalent of ``uuid.uuid4``).

    PostgreSQL: ``gen_random_uuid()``. MariaDB 10.7+ (native ``uuid`` column):
    ``UUID()``; other MySQL/MariaDB versions store UUIDs as 32 hex characters:
    ``REPLACE(UUID(), '-', '')``. SQLite: 16 random bytes as 32 hex characters
    (random, without the version 4 bits).
    """

    output_field = models.UUIDField()
    allowed_default = True
    function = "UUID"
    template = "%(function)s()"

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> Any:
        """Return gen_random_uuid()."""
        return self.as_sql(compiler, connection, function="GEN_RANDOM_UUID", **extra_context)

    def as_mysql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> Any:
        """Return UUID(), without dashes where the column is char(32)."""
        if connection.data_types.get("UUIDField") == "uuid":
            return self.as_sql(compiler, connection, **extra_context)
        return self.as_sql(
            compiler, connection, template="REPLACE(UUID(), '-', '')", **extra_context
        )

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> Any:
        """Return 32 random hex characters."""
        return self.as_sql(
            compiler, connection, template="LOWER(HEX(RANDOMBLOB(16)))", **extra_context
        )
