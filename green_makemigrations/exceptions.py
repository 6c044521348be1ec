"""Errors raised by green_makemigrations.

Every message says what is wrong, where (app and migration), and what to do.
"""


class GreenMigrationsError(Exception):
    """Base class of every error this package raises."""


class PhasingError(GreenMigrationsError):
    """A set of model changes cannot be split into deploy stages."""


class StagePlanError(GreenMigrationsError):
    """A ``migrate --stage`` run cannot go ahead; nothing has been changed."""


class StageConfigurationError(GreenMigrationsError):
    """A migration or the GREEN_MAKEMIGRATIONS setting names an invalid stage."""


class MigrationStopped(GreenMigrationsError):
    """A migration stopped part-way; the message says where, why and what to do."""


class LockRetriesExhausted(MigrationStopped):
    """A migration timed out on a lock on every try the lock policy allows."""


class MigrationDataError(MigrationStopped):
    """A migration met rows its DDL refuses (duplicates for a unique index, NULLs)."""
