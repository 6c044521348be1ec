"""Foreign keys added to existing tables without a lock held during a table scan.

Django adds a foreign key constraint with one ``ALTER TABLE``, which on
PostgreSQL checks every row while it holds a lock that stops writes (and, when
the column is added in the same statement, reads too). The operations here
add the constraint ``NOT VALID`` (checked for new rows only, a brief lock),
then ``VALIDATE CONSTRAINT`` in a separate statement, which scans the table
under ``SHARE UPDATE EXCLUSIVE``: reads and writes go on. The column's index
is built ``CONCURRENTLY``. MariaDB/MySQL would copy the table to add a
foreign key while it checks the rows: there the rows are checked by a query
first, and the constraint added with ``foreign_key_checks`` off, in place. On
SQLite they do what Django's AddField and AlterField do.

Both operations can be re-run after a failure: a column already added, an
index already built or a constraint already there is not added again, and a
constraint left ``NOT VALID`` is validated. Their import path is permanent
once it appears in migration files.

The autodetector swaps Django's operations for them with online_add_field()
and online_alter_field().
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.ddl_references import Statement
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from . import identifiers
from .backends import get_backend
from .operations import (
    AddUniqueConstraintConcurrently,
    _collecting,
    _concurrent,
    _constraint_names,
    _constraint_state,
    _ensure_not_in_transaction,
    build_index_concurrently,
)

# The suffix Django's add_field() and alter_field() give foreign key names.
FK_SUFFIX = "_fk_%(to_table)s_%(to_column)s"


def _has_fk_constraint(field: object) -> bool:
    """Return whether field is a foreign key (or one-to-one) with a database constraint."""
    return isinstance(field, models.ForeignKey) and bool(getattr(field, "db_constraint", False))


def _unquote(schema_editor: BaseDatabaseSchemaEditor, quoted: str) -> str:
    """Return the name inside a quote_name()'d identifier."""
    if len(quoted) > 2 and schema_editor.quote_name(quoted[1:-1]) == quoted:
        return quoted[1:-1]
    return quoted


def column_names(schema_editor: BaseDatabaseSchemaEditor, table: str) -> set[str]:
    """Return the names of table's columns, as the database has them now.

    A long name that PostgreSQL cut is found under the full name.
    """
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return identifiers.StoredNames(connection, (info.name for info in description))


@contextmanager
def _altered(field: Any, **attributes: Any) -> Iterator[None]:
    """Set attributes of a (rendered) field for a while, as AddField does with default.

    Attributes the field did not have (a cached_property not computed yet)
    are removed again.
    """
    missing = object()
    saved = {name: field.__dict__.get(name, missing) for name in attributes}
    field.__dict__.update(attributes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                del field.__dict__[name]  # a cached_property (unique) computes it again
            else:
                field.__dict__[name] = value


def _on_columns_only(field: Any, index_too: bool) -> dict[str, Any]:
    """Return the attributes that leave only the column to Django's schema editor."""
    attributes: dict[str, Any] = {"db_constraint": False}
    if index_too:
        # unique is a cached_property over _unique: set both.
        attributes.update(db_index=False, _unique=False, unique=False)
    return attributes


def _add_fk_not_valid(
    schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model], field: Any
) -> None:
    """Add Django's foreign key constraint of field NOT VALID, then validate it.

    The name and SQL (``DEFERRABLE INITIALLY DEFERRED``, and ``ON DELETE`` on
    Django 6.1+) are Django's own. Each statement commits on its own, so the
    lock of the ``ADD`` is not held while ``VALIDATE`` scans the table.
    """
    backend = get_backend(schema_editor.connection)
    statement = schema_editor._create_fk_sql(model, field, FK_SUFFIX)  # type: ignore[attr-defined]
    name = _unquote(schema_editor, str(statement.parts["name"]))
    table = model._meta.db_table
    validate = backend.validate_constraint_sql(
        schema_editor.quote_name(table), schema_editor.quote_name(name)
    )
    validated = (
        None if _collecting(schema_editor) else _constraint_state(schema_editor, name, table)
    )
    if validated is None:
        schema_editor.execute(backend.not_valid_sql(str(statement)))
    if not validated:
        schema_editor.execute(validate)


def _add_fk_checked(
    schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model], field: Any
) -> None:
    """Add Django's foreign key constraint of field on MariaDB/MySQL without a table copy.

    The server copies the table to add a foreign key while it checks rows
    (writes stopped for 2.7 s at 1M rows, 14.8 s at 5M). So the rows are checked first with a
    plain query (no lock), then the constraint is added with
    ``foreign_key_checks`` off, which lets the server build it in place.
    """
    statement = schema_editor._create_fk_sql(model, field, FK_SUFFIX)  # type: ignore[attr-defined]
    name = _unquote(schema_editor, str(statement.parts["name"]))
    table = model._meta.db_table
    if not _collecting(schema_editor):
        if name in _constraint_names(schema_editor, table):
            return  # added by an earlier run
        quote = schema_editor.quote_name
        target = field.target_field
        sql = get_backend(schema_editor.connection).dangling_reference_sql(
            quote(table),
            quote(field.column),
            quote(target.model._meta.db_table),
            quote(target.column),
        )
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)
            dangling = cursor.fetchone()
        if dangling is not None:
            raise IntegrityError(
                f"Cannot add foreign key {name}: {table}.{field.column} holds "
                f"{dangling[0]!r}, which {target.model._meta.db_table}.{target.column} "
                "does not have. Fix or clear those rows, then run migrate again."
            )
    with foreign_key_checks_off(schema_editor):
        schema_editor.execute(statement)


@contextmanager
def foreign_key_checks_off(schema_editor: BaseDatabaseSchemaEditor) -> Iterator[None]:
    """Turn MariaDB/MySQL's ``foreign_key_checks`` off for the block.

    The server then adds a foreign key in place instead of copying the
    table to check its rows: only for rows known to be valid.
    """
    backend = get_backend(schema_editor.connection)
    schema_editor.execute(backend.foreign_key_checks_sql(False))
    try:
        yield
    finally:
        schema_editor.execute(backend.foreign_key_checks_sql(True))


def _create_field_indexes(
    schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model], field: Any
) -> None:
    """Build the indexes Django gives field (db_index, unique) concurrently.

    The statements are Django's (its names, the ``_like`` index of a varchar
    column), run with ``CREATE INDEX CONCURRENTLY``; an INVALID leftover of a
    failed build is dropped first. A unique field's index is attached as
    Django's ``_uniq`` constraint.
    """
    if field.unique:
        name = str(
            schema_editor._unique_constraint_name(  # type: ignore[attr-defined]
                model._meta.db_table, [field.column], quote=False
            )
        )
        constraint = models.UniqueConstraint(fields=[field.name], name=name)
        AddUniqueConstraintConcurrently(model._meta.model_name or "", constraint).add_on_postgresql(
            schema_editor, model
        )
    statements: list[Statement] = schema_editor._field_indexes_sql(  # type: ignore[attr-defined]
        model, field
    )
    for statement in statements:
        statement.template = schema_editor.sql_create_index_concurrently  # type: ignore[attr-defined]
        name = _unquote(schema_editor, str(statement.parts["name"]))
        build_index_concurrently(
            schema_editor, name, partial(schema_editor.execute, statement, params=None)
        )


class AddForeignKeyNotValid(operations.AddField):
    """Add a foreign key to an existing model; on PostgreSQL without a long lock.

    On PostgreSQL the column is added without its constraint and index, the
    index is built ``CONCURRENTLY`` (a one-to-one's unique index too, then
    attached as a constraint), and the constraint is added ``NOT VALID``
    then validated, each step in its own transaction. On MariaDB/MySQL the
    column is added without its constraint, the rows are checked by a query
    and the constraint is added in place (``foreign_key_checks`` off). The
    result is the schema Django's AddField gives. On SQLite it is Django's
    AddField.
    """

    outside_transaction = True

    def __init__(
        self,
        model_name: str,
        name: str,
        field: models.Field[Any, Any],
        preserve_default: bool = True,
    ) -> None:
        super().__init__(model_name, name, field, preserve_default)

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return (
            f"Add field {self.name} to {self.model_name}, its foreign key "
            "validated without blocking writes"
        )

    def reduce(self, operation: Operation, app_label: str) -> Any:
        """Reduce as AddField does; the result is this class while the field has a constraint.

        Django builds a plain AddField (5.2) or a copy of this one (6.0+).
        """
        reduced = super().reduce(operation, app_label)
        if not isinstance(reduced, list):
            return reduced
        result: list[Operation] = []
        for op in reduced:
            if isinstance(op, operations.AddField) and type(op) in (
                operations.AddField,
                AddForeignKeyNotValid,
            ):
                op = operations.AddField(op.model_name, op.name, op.field, op.preserve_default)
                op = online_add_field(op) or op
            result.append(op)
        return result

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Add the column, its indexes, then its constraint NOT VALID and validate it."""
        to_model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, to_model):
            return
        field: Any = to_model._meta.get_field(self.name)
        collecting = _collecting(schema_editor)
        stored = identifiers.stored(schema_editor.connection, field.column)
        if not collecting and stored in column_names(schema_editor, to_model._meta.db_table):
            added = True  # by an earlier run
        else:
            added = False
        backend = get_backend(schema_editor.connection)
        if backend.adds_foreign_keys_unchecked:
            if not added:
                # The column (and a one-to-one's unique index), not the constraint,
                # whose own index the server builds.
                attributes = _on_columns_only(field, index_too=not field.unique)
                with _altered(field, **attributes):
                    super().database_forwards(app_label, schema_editor, from_state, to_state)
            _add_fk_checked(schema_editor, to_model, field)
            return
        if not backend.concurrent_ddl:
            if not added:
                with _atomic_if_possible(schema_editor):
                    super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        _ensure_not_in_transaction(self, schema_editor)
        if not added:
            with _altered(field, **_on_columns_only(field, index_too=True)):
                super().database_forwards(app_label, schema_editor, from_state, to_state)
        _create_field_indexes(schema_editor, to_model, field)
        _add_fk_not_valid(schema_editor, to_model, field)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Drop the column (with its constraint and indexes) unless already gone."""
        from_model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, from_model):
            return
        field: Any = from_model._meta.get_field(self.name)
        if _collecting(schema_editor) or identifiers.stored(
            schema_editor.connection, field.column
        ) in column_names(schema_editor, from_model._meta.db_table):
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AlterFieldForeignKeyNotValid(operations.AlterField):
    """Give an existing column a foreign key constraint; on PostgreSQL without a long lock.

    For an AlterField from a column without a constraint (an IntegerField, a
    ForeignKey with ``db_constraint=False``) to a ForeignKey with one. On
    PostgreSQL Django's alter_field() applies every other difference, the
    new index is built ``CONCURRENTLY``, and the constraint is added ``NOT
    VALID`` then validated in a separate transaction. On MariaDB/MySQL the
    rows are checked by a query and the constraint is added in place. On
    SQLite it is Django's AlterField.
    """

    outside_transaction = True

    def __init__(
        self,
        model_name: str,
        name: str,
        field: models.Field[Any, Any],
        preserve_default: bool = True,
    ) -> None:
        super().__init__(model_name, name, field, preserve_default)

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return (
            f"Alter field {self.name} on {self.model_name}, its foreign key "
            "validated without blocking writes"
        )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Alter the column as Django does, then add the constraint NOT VALID and validate it."""
        to_model = to_state.apps.get_model(app_label, self.model_name)
        backend = get_backend(schema_editor.connection)
        online = backend.concurrent_ddl or backend.adds_foreign_keys_unchecked
        if not online or not self.allow_migrate_model(schema_editor.connection.alias, to_model):
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        from_model = from_state.apps.get_model(app_label, self.model_name)
        old_field: Any = from_model._meta.get_field(self.name)
        new_field: Any = to_model._meta.get_field(self.name)
        # A new plain index is built concurrently below (PostgreSQL), or by the
        # server with the constraint (MariaDB), not by alter_field().
        index_too = not (old_field.db_index or old_field.unique) and not new_field.unique
        if backend.adds_foreign_keys_unchecked:
            if not self._altered_by_earlier_run(schema_editor, to_model, old_field, new_field):
                attributes = _on_columns_only(new_field, index_too=False)
                if index_too:
                    attributes["db_index"] = False
                with _altered(new_field, **attributes):
                    super().database_forwards(app_label, schema_editor, from_state, to_state)
            _add_fk_checked(schema_editor, to_model, new_field)
            return
        _ensure_not_in_transaction(self, schema_editor)
        if not self._altered_by_earlier_run(schema_editor, to_model, old_field, new_field):
            attributes = _on_columns_only(new_field, index_too=False)
            if index_too:
                attributes["db_index"] = False
            with _altered(new_field, **attributes):
                super().database_forwards(app_label, schema_editor, from_state, to_state)
        if index_too:
            _create_field_indexes(schema_editor, to_model, new_field)
        _add_fk_not_valid(schema_editor, to_model, new_field)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Alter the column back as Django does (which drops the constraint)."""
        # AlterField's database_backwards calls database_forwards with the
        # states swapped: that must be Django's, not the one above.
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def _altered_by_earlier_run(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        old_field: Any,
        new_field: Any,
    ) -> bool:
        """Return whether an earlier run already altered the column (renamed or constrained)."""
        if _collecting(schema_editor):
            return False
        table = model._meta.db_table
        statement = schema_editor._create_fk_sql(model, new_field, FK_SUFFIX)  # type: ignore[attr-defined]
        name = _unquote(schema_editor, str(statement.parts["name"]))
        if _concurrent(schema_editor):
            if _constraint_state(schema_editor, name, table) is not None:
                return True
        elif name in _constraint_names(schema_editor, table):
            return True
        if old_field.column != new_field.column:
            columns = column_names(schema_editor, table)
            connection = schema_editor.connection
            old, new = (identifiers.stored(connection, f.column) for f in (old_field, new_field))
            return old not in columns and new in columns
        return False


@contextmanager
def _atomic_if_possible(schema_editor: BaseDatabaseSchemaEditor) -> Iterator[None]:
    """Run Django's steps in one transaction where DDL can be rolled back (SQLite).

    The migration is non-atomic for PostgreSQL's sake; on SQLite a table
    rebuild in autocommit would let other connections see it half done.
    """
    connection = schema_editor.connection
    if connection.features.can_rollback_ddl and not connection.in_atomic_block:
        with transaction.atomic(using=connection.alias):
            yield
    else:
        yield


def online_add_field(operation: operations.AddField) -> Operation | None:
    """Return the operation replacing Django's AddField of a foreign key, or None.

    Only for a ForeignKey or OneToOneField with a database constraint (not
    a many-to-many, which adds a table, nor a primary key) added to an
    existing model.
    """
    if type(operation) is not operations.AddField or not _has_fk_constraint(operation.field):
        return None
    if operation.field.primary_key:
        return None
    return AddForeignKeyNotValid(
        operation.model_name, operation.name, operation.field, operation.preserve_default
    )


def online_alter_field(
    operation: operations.AlterField, old_field: models.Field[Any, Any]
) -> Operation | None:
    """Return the operation replacing Django's AlterField that adds a foreign key, or None.

    Only when old_field had no foreign key constraint and the new field has
    one (IntegerField or ForeignKey(db_constraint=False) to ForeignKey).
    """
    if type(operation) is not operations.AlterField:
        return None
    if not _has_fk_constraint(operation.field) or _has_fk_constraint(old_field):
        return None
    return AlterFieldForeignKeyNotValid(
        operation.model_name, operation.name, operation.field, operation.preserve_default
    )
