"""Operations that a re-run skips when their effect is already in the database.

MariaDB and MySQL cannot roll DDL back: a migration that failed half-way has
done some of its operations without being recorded. Wrapped in
ResumableOperation, the operations that are not idempotent in DDL (adding and
dropping columns and tables) check the database first, so re-running the
migration finishes it.

The same wrapper records, in a Progress, which operations of a migration
have committed (non-atomic migrations, databases without transactional DDL),
so that a retry after a lock timeout resumes at the operation that timed out
instead of doing the earlier ones again; their state changes still apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from . import identifiers
from .operations import runs_outside_transaction


@dataclass
class Progress:
    """How far the attempts at one migration, in one direction, got.

    ``done`` holds the indexes of operations whose effect is committed: a
    retry skips their database step. An operation that returned inside a
    transaction counts once the connection is outside any atomic block again
    (its own atomic block, in a non-atomic migration, has committed then).
    ``current`` is the index of the operation that runs, or that failed;
    ``backwards`` says the migration is being unapplied.
    """

    backwards: bool = False
    done: set[int] = field(default_factory=set)
    returned: list[int] = field(default_factory=list)
    current: int | None = None

    def restart(self) -> None:
        """Forget what the failed attempt did without committing it."""
        self.returned.clear()
        self.current = None

    def settle(self, connection: BaseDatabaseWrapper) -> None:
        """Count the operations that returned as done if nothing is left to commit."""
        if not connection.in_atomic_block:
            self.done.update(self.returned)
            self.returned.clear()


class ResumableOperation:
    """Wrap an operation so it does nothing when its effect is already there.

    With check_database, covers the operations that are not idempotent in
    DDL: adding and dropping columns and tables. With a progress, skips the
    operation if an earlier attempt committed it, and records it. Everything
    else is delegated untouched.
    """

    def __init__(
        self,
        operation: Operation,
        index: int = 0,
        progress: Progress | None = None,
        check_database: bool = True,
    ) -> None:
        self.operation = operation
        self.index = index
        self.progress = progress
        self.check_database = check_database

    def __getattr__(self, name: str) -> Any:
        return getattr(self.operation, name)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Run the operation forwards unless the database already shows its effect."""
        self._step(
            schema_editor,
            lambda: _already_done(self.operation, app_label, schema_editor, from_state, to_state),
            lambda: self.operation.database_forwards(
                app_label, schema_editor, from_state, to_state
            ),
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Run the operation backwards unless the database already shows its effect."""
        # Backwards, from_state is after the operation and to_state before it.
        self._step(
            schema_editor,
            lambda: _already_done(
                self.operation, app_label, schema_editor, from_state, to_state, backwards=True
            ),
            lambda: self.operation.database_backwards(
                app_label, schema_editor, from_state, to_state
            ),
        )

    def _step(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        already_done: Callable[[], bool],
        run: Callable[[], None],
    ) -> None:
        progress = self.progress
        if progress is None:
            if not (self.check_database and already_done()):
                run()
            return
        connection = schema_editor.connection
        progress.settle(connection)
        progress.current = self.index
        if self.index in progress.done:
            return
        if not (self.check_database and already_done()):
            run()
        progress.returned.append(self.index)
        progress.settle(connection)


def _already_done(
    operation: Operation,
    app_label: str,
    schema_editor: BaseDatabaseSchemaEditor,
    from_state: ProjectState,
    to_state: ProjectState,
    backwards: bool = False,
) -> bool:
    """Return whether the database already looks as it should after the step."""
    if runs_outside_transaction(operation):
        return False  # such operations finish an earlier run themselves
    adds_column = isinstance(operation, operations.AddField) != backwards
    if isinstance(operation, (operations.AddField, operations.RemoveField)):
        state = to_state if adds_column else from_state
        model = state.apps.get_model(app_label, operation.model_name)
        if not operation.allow_migrate_model(schema_editor.connection.alias, model):
            return False  # the operation does nothing here: nothing to look at
        field = model._meta.get_field(operation.name)
        if field.many_to_many:
            through = field.remote_field.through
            if not through._meta.auto_created:
                return False
            return _table_exists(schema_editor, through._meta.db_table) == adds_column
        if field.column is None or not field.concrete:
            return False
        exists = _column_exists(schema_editor, model._meta.db_table, field.column)
        return exists == adds_column
    creates_table = isinstance(operation, operations.CreateModel) != backwards
    if isinstance(operation, (operations.CreateModel, operations.DeleteModel)):
        state = to_state if creates_table else from_state
        model = state.apps.get_model(app_label, operation.name)
        if not operation.allow_migrate_model(schema_editor.connection.alias, model):
            return False  # unmanaged, a proxy, or kept off this database by the routers
        return _table_exists(schema_editor, model._meta.db_table) == creates_table
    return False


def _table_exists(schema_editor: BaseDatabaseSchemaEditor, table: str) -> bool:
    connection = schema_editor.connection
    # Compared with the name the database stored (PostgreSQL cuts it at 63 bytes).
    with connection.cursor() as cursor:
        return identifiers.stored(connection, table) in connection.introspection.table_names(cursor)


def _column_exists(schema_editor: BaseDatabaseSchemaEditor, table: str, column: str) -> bool:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if identifiers.stored(connection, table) not in connection.introspection.table_names(
            cursor
        ):
            return False
        description = connection.introspection.get_table_description(cursor, table)
    return identifiers.stored(connection, column) in {info.name for info in description}
