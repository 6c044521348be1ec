"""Operations that a re-run skips when their effect is already in the database.

MariaDB and MySQL cannot roll DDL back: a migration that failed half-way has
done some of its operations without being recorded. Wrapped in
ResumableOperation, the operations that are not idempotent in DDL (adding and
dropping columns and tables) check the database first, so re-running the
migration finishes it.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from . import identifiers
from .operations import runs_outside_transaction


class ResumableOperation:
    """Wrap an operation so it does nothing when its effect is already there.

    Covers the operations that are not idempotent in DDL: adding and dropping
    columns and tables. Everything else is delegated untouched.
    """

    def __init__(self, operation: Operation) -> None:
        self.operation = operation

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
        if not _already_done(self.operation, app_label, schema_editor, from_state, to_state):
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Run the operation backwards unless the database already shows its effect."""
        # Backwards, from_state is after the operation and to_state before it.
        if not _already_done(
            self.operation, app_label, schema_editor, from_state, to_state, backwards=True
        ):
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)


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
        if not model._meta.managed or model._meta.proxy:
            return False
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
