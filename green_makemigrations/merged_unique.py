"""A unique constraint that PostgreSQL merged with a field's own, removed without its uniqueness.

PostgreSQL makes one constraint of identical unique constraints declared in
one ``CREATE TABLE``: a field with ``unique=True`` and a
``UniqueConstraint(fields=[that field])`` created together share a single
index, under the Meta constraint's name. Django's state still holds both, so
its ``RemoveConstraint`` drops the field's uniqueness with the constraint:
in a pre-deploy stage, the previous release's unique field is left without a
unique index (fuzzer finding F10), and a later ``AlterField`` dropping
``unique`` finds no constraint to drop.
"""

from __future__ import annotations

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations import operations
from django.db.migrations.state import ProjectState

from . import identifiers
from .backends import get_backend
from .operations import _constraint_names


class RemoveConstraintKeepingFieldUnique(operations.RemoveConstraint):
    """Remove a one-field unique constraint; keep the unique index the field relies on.

    On PostgreSQL, when the table has no other unique constraint on the
    constraint's column, the constraint is the field's own as well: it is
    renamed to the name Django gives a field's unique constraint
    (``<table>_<column>_<hash>_uniq``) instead of being dropped, an instant
    and transactional change of the catalog. Elsewhere, or when the field's
    own constraint exists, this is Django's ``RemoveConstraint``; undoing it
    always is (the constraint comes back beside the field's own). Either way
    a re-run that finds the change made (no constraint of that name left, or
    the constraint back) does nothing, on every backend. The state change is
    Django's.
    """

    def __init__(self, model_name: str, name: str) -> None:
        super().__init__(model_name, name)

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return (
            f"Remove constraint {self.name} from model {self.model_name}, "
            "keeping the field's unique index"
        )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Rename the constraint to the field's if it is the column's only one, else drop it."""
        model = from_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if not self.allow_migrate_model(connection.alias, model):
            return
        if schema_editor.collect_sql:  # sqlmigrate: the database is not at this step
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        table = model._meta.db_table
        if self.name not in _constraint_names(schema_editor, table):
            return  # renamed or dropped by an earlier run
        field_name = merged_field(from_state, app_label, self.model_name_lower, self.name)
        backend = get_backend(connection)
        if field_name is None or not backend.merges_identical_unique_constraints:
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        column = model._meta.get_field(field_name).column
        stored = identifiers.stored(connection, self.name)
        if _other_unique_indexes(schema_editor, table, column, stored):
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        new_name = identifiers.fit_for(
            connection,
            schema_editor._create_index_name(table, [column], suffix="_uniq"),  # type: ignore[attr-defined]
        )
        quote = identifiers.quoter(schema_editor)
        schema_editor.execute(
            backend.rename_constraint_sql(quote(table), quote(stored), quote(new_name))
        )

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Add the constraint back (beside the field's own) unless an earlier run did."""
        model = to_state.apps.get_model(app_label, self.model_name)
        if (
            not schema_editor.collect_sql
            and self.allow_migrate_model(schema_editor.connection.alias, model)
            and self.name in _constraint_names(schema_editor, model._meta.db_table)
        ):
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)


def _other_unique_indexes(
    schema_editor: BaseDatabaseSchemaEditor, table: str, column: str, name: str
) -> bool:
    """Return whether a valid unique index other than name covers exactly column, in full.

    A partial or expression index does not count: it does not make the
    column unique.
    """
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            get_backend(connection).other_unique_index_sql(),
            [identifiers.stored(connection, table), name, identifiers.stored(connection, column)],
        )
        return cursor.fetchone() is not None


def merged_field(state: ProjectState, app_label: str, model_name: str, name: str) -> str | None:
    """Return the field of constraint name if it may share its index with the field's own.

    That is a plain ``UniqueConstraint`` (no condition, expressions,
    include, opclasses, deferrable or nulls_distinct) on one field that is
    ``unique=True`` in state; None otherwise.
    """
    model_state = state.models.get((app_label, model_name))
    if model_state is None:
        return None
    constraint = next(
        (c for c in model_state.options.get("constraints", ()) if c.name == name), None
    )
    if not isinstance(constraint, models.UniqueConstraint) or len(constraint.fields) != 1:
        return None
    options = ("condition", "expressions", "include", "opclasses", "deferrable")
    if any(getattr(constraint, option, None) for option in options):
        return None
    if getattr(constraint, "nulls_distinct", None) is not None:  # False: NULLS NOT DISTINCT
        return None
    field_name: str = constraint.fields[0]
    field = model_state.fields.get(field_name)
    if field is None or not field.unique or field.primary_key:
        return None
    return field_name
