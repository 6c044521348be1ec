"""Keep two columns of one table equal while two releases each use one of them.

A phased rename adds the new column beside the old one. Until the old
release is gone, it reads and writes the old column and the new release the
new one: triggers copy each write to the other column, and the rows that
existed before are copied in batches. On PostgreSQL one ``BEFORE INSERT OR
UPDATE`` trigger function does it, on MariaDB/MySQL two ``BEFORE`` triggers;
on SQLite, whose triggers cannot change the row being written, ``AFTER``
triggers update it again by primary key.

On insert, a value in the new column wins (the new release wrote it);
otherwise the new column gets the old one's. On update, the column that
changed is copied to the other one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation, OperationCategory
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED

from . import identifiers
from .backends import get_backend
from .backfill import update_in_batches
from .exceptions import GreenMigrationsError
from .foreign_keys import column_names
from .verify.schema import Schema, StateProjection


class _ColumnSync:
    """The triggers keeping column target equal to column source, for one backend."""

    def __init__(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        source: str,
        target: str,
    ) -> None:
        self.editor = schema_editor
        self.backend = get_backend(schema_editor.connection)
        self.table = model._meta.db_table
        meta_pk = model._meta.pk
        assert meta_pk is not None  # concrete models have one
        quote = identifiers.quoter(schema_editor)
        self.q_table = quote(self.table)
        self.pk = quote(str(meta_pk.column))
        self.source = quote(source)
        self.target = quote(target)
        self.columns = [source, target]
        # The backend's index naming gives a short, stable, unique name.
        self.name = self._name("_sync")

    def _legacy_name(self, suffix: str) -> str:
        return str(
            self.editor._create_index_name(  # type: ignore[attr-defined]
                self.table, self.columns, suffix=suffix
            )
        )

    def _name(self, suffix: str) -> str:
        # Django's index naming counts characters: PostgreSQL would cut a
        # multibyte name it made, so that is fitted in bytes.
        return identifiers.fit_for(self.editor.connection, self._legacy_name(suffix))

    def _names(self) -> list[str]:
        limit = self.editor.connection.ops.max_name_length()
        return [
            # Past the server's limit, the tail goes inside the name's own truncation.
            f"{self.name}{tail}"
            if limit is None or len(self.name + tail) <= limit
            else self._name(f"_sync{tail}")
            for tail in self.backend.sync_trigger_suffixes
        ]

    def _legacy_names(self) -> list[str]:
        """Return the names of an older release's triggers that differ from today's.

        Before names were fitted in bytes, PostgreSQL kept the first 63 bytes of
        a longer one: sent again, it is cut the same way and finds them.
        """
        if not self.backend.cuts_long_names:
            return []
        legacy = self._legacy_name("_sync")
        return [] if legacy == self.name else [legacy]

    def create(self) -> None:
        """Create the triggers, replacing any left by an earlier run."""
        self.drop()
        quote = identifiers.quoter(self.editor)
        names = [quote(name) for name in self._names()]
        for statement in self.backend.create_sync_triggers_sql(
            names, self.q_table, self.pk, self.source, self.target
        ):
            self.editor.execute(statement, None)

    def exists(self) -> bool:
        """Return whether every trigger of the sync is in the database."""
        names = self._names()
        sql, params = self.backend.sync_triggers_sql(self.q_table, names)
        with self.editor.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return len(cursor.fetchall()) == len(names)

    def drop(self) -> None:
        """Drop the triggers if they exist."""
        quote = identifiers.quoter(self.editor)
        for name in [*self._names(), *self._legacy_names()]:
            for statement in self.backend.drop_sync_trigger_sql(quote(name), self.q_table):
                self.editor.execute(statement)

    def backfill(self, model: type[models.Model], batch_size: int, *, reverse: bool) -> None:
        """Copy the column that holds the truth into the other one where they differ.

        Forwards the old (source) column holds it; ``reverse`` (re-starting the
        sync when the old column was re-added) the new one.
        """
        to, frm = (self.source, self.target) if reverse else (self.target, self.source)
        update_in_batches(
            self.editor,
            model,
            f"{to} = {frm}",
            self.backend.is_distinct_sql(to, frm),
            batch_size=batch_size,
        )


def _has_column(schema_editor: BaseDatabaseSchemaEditor, table: str, column: str) -> bool:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    # Compared with the name the database stored (PostgreSQL cuts it at 63 bytes).
    stored = identifiers.stored(connection, column)
    return any(info.name == stored for info in description)


class SyncOperation(Operation):
    """Base of the sync operations: the two fields, starting and stopping the sync."""

    reduces_to_sql = True
    reversible = True
    # Each batch of the backfill commits on its own.
    outside_transaction = True
    # makemigrations shows "~" (the subclasses say "+" or "-" where they can).
    category = OperationCategory.ALTERATION

    def __init__(
        self, model_name: str, old_name: str, new_name: str, batch_size: int = 1000
    ) -> None:
        self.model_name = model_name
        self.old_name = old_name
        self.new_name = new_name
        self.batch_size = batch_size

    @property
    def model_name_lower(self) -> str:
        """The model name in lower case, as Django's model operations have it."""
        return self.model_name.lower()

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        """Return the arguments the migration writer writes."""
        kwargs: dict[str, Any] = {
            "model_name": self.model_name,
            "old_name": self.old_name,
            "new_name": self.new_name,
        }
        if self.batch_size != 1000:
            kwargs["batch_size"] = self.batch_size
        return self.__class__.__qualname__, [], kwargs

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """Change nothing: both fields are in the state while the columns are synced."""

    def references_model(self, name: str, app_label: str) -> bool:
        """Return whether the operation works on the model called name."""
        return name.lower() == self.model_name_lower

    def references_field(self, model_name: str, name: str, app_label: str) -> bool:
        """Return whether the operation reads or writes the field called name."""
        return self.references_model(model_name, app_label) and name.lower() in {
            self.old_name.lower(),
            self.new_name.lower(),
        }

    def _column_pairs(self, app_label: str, projection: StateProjection) -> set[tuple[str, str]]:
        """Return the (table, column) pairs of the two fields, those the state has."""
        key = (app_label, self.model_name_lower)
        table = projection.table_name(key)
        columns = (projection.field_column(key, name) for name in (self.old_name, self.new_name))
        return {(table, column) for column in columns if table is not None and column is not None}

    def _start(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        state: ProjectState,
        *,
        reverse: bool,
    ) -> None:
        sync = self._sync(app_label, schema_editor, state)
        if sync is not None:
            sync[0].create()
            sync[0].backfill(sync[1], self.batch_size, reverse=reverse)

    def _stop(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState
    ) -> None:
        sync = self._sync(app_label, schema_editor, state)
        if sync is not None:
            sync[0].drop()

    def _sync(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState
    ) -> tuple[_ColumnSync, type[models.Model]] | None:
        model = state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return None
        source = model._meta.get_field(self.old_name).column
        target = model._meta.get_field(self.new_name).column
        return _ColumnSync(schema_editor, model, str(source), str(target)), model


class SyncRenamedColumns(SyncOperation):
    """Start copying writes between a renamed field's old and new columns, and backfill.

    Pre-deploy step of a rename that changes the column: the old release
    uses ``old_name``'s column, the new release ``new_name``'s. Re-running it
    replaces the triggers and finishes the backfill. Shown as an addition
    ("+"): it adds the triggers.
    """

    category = OperationCategory.ADDITION

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return (
            f"Sync {self.model_name}.{self.old_name} and {self.new_name} with triggers "
            "and copy existing values in batches"
        )

    @property
    def migration_name_fragment(self) -> str:
        """Name fragment for migrations made of this operation."""
        return f"sync_{self.model_name_lower}_{self.new_name.lower()}"

    def schema_effect(self, app_label: str, projection: StateProjection, schema: Schema) -> None:
        """Record that the triggers fill each column from the other on insert."""
        schema.synced.update(self._column_pairs(app_label, projection))

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Create the triggers, then copy the existing values."""
        self._start(app_label, schema_editor, to_state, reverse=False)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Drop the triggers.

        If an earlier run dropped part of them, the running release's writes
        since reached the old column only: the sync is made whole and the new
        column filled again first, so it is left as a run without a crash
        leaves it.
        """
        sync = self._sync(app_label, schema_editor, from_state)
        if sync is None:
            return
        columns, model = sync
        if not schema_editor.collect_sql and not columns.exists():
            columns.create()
            columns.backfill(model, self.batch_size, reverse=False)
        columns.drop()


class StopSyncRenamedColumns(SyncOperation):
    """Stop copying writes between a renamed field's old and new columns.

    Post-deploy step of a rename, before the old column is dropped. Going
    backwards it starts the sync again and fills the old column (re-added
    empty by the reversed drop) from the new one. Shown as a removal ("-"):
    it drops the triggers.
    """

    category = OperationCategory.REMOVAL

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return f"Stop syncing {self.model_name}.{self.old_name} and {self.new_name}"

    @property
    def migration_name_fragment(self) -> str:
        """Name fragment for migrations made of this operation."""
        return f"unsync_{self.model_name_lower}_{self.old_name.lower()}"

    def schema_effect(self, app_label: str, projection: StateProjection, schema: Schema) -> None:
        """Record that no trigger fills the two columns any more."""
        schema.synced.difference_update(self._column_pairs(app_label, projection))

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Drop the triggers."""
        self._stop(app_label, schema_editor, from_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Create the triggers again and copy the new column into the re-added old one."""
        self._start(app_label, schema_editor, to_state, reverse=True)


class SyncRetypedColumn(SyncRenamedColumns):
    """Start copying a field's writes into its retyped replacement column, and backfill.

    Pre-deploy step of a type change that rewrites the table: both releases
    write ``old_name`` (the field), whose values the triggers and the backfill
    copy into ``new_name``, a column of the new type that ReplaceColumn puts
    in the field's place in post-deploy.
    """

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return (
            f"Copy {self.model_name}.{self.old_name} into {self.new_name} (its new type) "
            "with triggers and in batches"
        )

    @property
    def migration_name_fragment(self) -> str:
        """Name fragment for migrations made of this operation."""
        return f"sync_{self.model_name_lower}_{self.new_name.lower()}"

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Refuse a replacement sharing the field's column, then start the sync."""
        _refuse_shared_column(self, app_label, to_state)
        super().database_forwards(app_label, schema_editor, from_state, to_state)


def _refuse_shared_column(operation: SyncOperation, app_label: str, state: ProjectState) -> None:
    """Raise if the retyped replacement has the field's own column.

    Type changes of a field with ``db_column`` were written so by earlier
    releases of this package: the replacement's add found the column there,
    and the swap would drop the only copy of the values.
    """
    model = state.apps.get_model(app_label, operation.model_name)
    column = model._meta.get_field(operation.old_name).column
    if column != model._meta.get_field(operation.new_name).column:
        return
    raise GreenMigrationsError(
        f"{app_label}: {operation.describe()}: {operation.new_name} has the column of "
        f"{operation.old_name}, {column}, so the swap would drop the only copy of its values "
        "(a type change of a field with db_column, written by an earlier release of "
        "green_makemigrations). Nothing was changed. Delete this migration and the "
        "pre-deploy one that adds the replacement (migrate back before it first if it is "
        "applied) and run makemigrations again: the replacement gets a column of its own."
    )


class ReplaceColumn(SyncOperation):
    """Drop a field's column and give its retyped replacement the field's name.

    Post-deploy step of a type change: the sync triggers are dropped,
    ``old_name``'s column is dropped and ``new_name``'s column renamed to it,
    all in one transaction (on MariaDB/MySQL under ``LOCK TABLES … WRITE``,
    one ALTER TABLE), so no write falls between the triggers and the swap and
    no query sees the field without a column. In the state ``new_name``
    replaces ``old_name``. Backwards, the old column is added again, filled
    from the replacement, which gets its name back, and the sync restarts.

    ``db_column``, when given, is the ``db_column`` the field has once
    replaced: the replacement has a column of its own (e.g. ``amt_retyped``
    for a field with ``db_column="amt"``), renamed to the field's column in
    the swap. Without it the replacement keeps its own ``db_column``.
    """

    # The swap is one transaction; the reverse backfill commits per batch.
    outside_transaction = True
    # The field keeps its name with a new type: an alteration, as AlterField.
    category = OperationCategory.ALTERATION

    def __init__(
        self,
        model_name: str,
        old_name: str,
        new_name: str,
        batch_size: int = 1000,
        db_column: Any = NOT_PROVIDED,
    ) -> None:
        super().__init__(model_name, old_name, new_name, batch_size)
        self.db_column = db_column

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        """Return the arguments the migration writer writes."""
        name, args, kwargs = super().deconstruct()
        if self.db_column is not NOT_PROVIDED:
            kwargs["db_column"] = self.db_column
        return name, args, kwargs

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return (
            f"Replace {self.model_name}.{self.old_name} by {self.new_name}, renamed {self.old_name}"
        )

    @property
    def migration_name_fragment(self) -> str:
        """Name fragment for migrations made of this operation."""
        return f"replace_{self.model_name_lower}_{self.old_name.lower()}"

    def schema_effect(self, app_label: str, projection: StateProjection, schema: Schema) -> None:
        """Record that the sync triggers of the table are gone with the swap."""
        table = projection.table_name((app_label, self.model_name_lower))
        schema.synced = {pair for pair in schema.synced if pair[0] != table}

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """Remove old_name, then rename new_name to it (with db_column, if given)."""
        state.remove_field(app_label, self.model_name_lower, self.old_name)
        state.rename_field(app_label, self.model_name_lower, self.new_name, self.old_name)
        if self.db_column is not NOT_PROVIDED:
            field = state.models[app_label, self.model_name_lower].fields[self.old_name].clone()
            field.db_column = self.db_column
            state.alter_field(
                app_label, self.model_name_lower, self.old_name, field, preserve_default=True
            )

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Drop the old column and rename the replacement, atomically."""
        before = from_state.apps.get_model(app_label, self.model_name)
        after = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, after):
            return
        old_field = before._meta.get_field(self.old_name)
        replacement = before._meta.get_field(self.new_name)
        renamed = after._meta.get_field(self.old_name)
        _refuse_shared_column(self, app_label, from_state)
        quote = identifiers.quoter(schema_editor)
        # A db_column change: the replacement has the final column already.
        in_place = replacement.column == renamed.column
        done_column = old_field.column if in_place else replacement.column
        if not schema_editor.collect_sql and not _has_column(
            schema_editor, after._meta.db_table, str(done_column)
        ):
            return  # an earlier run swapped them (MariaDB: DDL is not transactional)
        column_sync = _ColumnSync(
            schema_editor, before, str(old_field.column), str(replacement.column)
        )
        table = quote(after._meta.db_table)
        swap = (
            None
            if in_place
            else get_backend(schema_editor.connection).drop_and_rename_column_sql(
                table,
                quote(str(old_field.column)),
                quote(str(replacement.column)),
                quote(str(renamed.column)),
            )
        )
        if not in_place and not schema_editor.collect_sql and not column_sync.exists():
            # An earlier run dropped the triggers and stopped before the swap
            # (MariaDB: DDL is not transactional): the running release's
            # writes since then are in the old column only. Sync again first.
            # (In place, the running release writes the replacement, which
            # stays: the old column is only dropped.)
            column_sync.create()
            column_sync.backfill(before, self.batch_size, reverse=False)
        # Writers wait: none slips between the triggers' drop and the swap.
        with _table_held(schema_editor, after._meta.db_table):
            column_sync.drop()
            if in_place:
                schema_editor.remove_field(before, old_field)
            elif swap is not None:
                schema_editor.execute(swap)
            else:
                schema_editor.remove_field(before, old_field)
                schema_editor.alter_field(after, replacement, renamed)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Give the replacement its name back, re-add the old column, fill it, sync them.

        All at once (one transaction): the running release must not meet the
        table without its column, nor write between the fill and the
        triggers. On MariaDB/MySQL, which cannot roll DDL back, in steps a
        re-run finishes (see _backwards_in_steps).
        """
        after = from_state.apps.get_model(app_label, self.model_name)
        before = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, before):
            return
        renamed = after._meta.get_field(self.old_name)
        replacement = before._meta.get_field(self.new_name)
        old_field = before._meta.get_field(self.old_name)
        nullable = old_field.clone()
        nullable.null = True
        nullable.set_attributes_from_name(self.old_name)
        nullable.model = before
        quote = identifiers.quoter(schema_editor)
        if renamed.column == replacement.column:
            self._backwards_in_place(schema_editor, before, replacement, old_field, nullable)
            return
        if not schema_editor.collect_sql and (
            not schema_editor.connection.features.can_rollback_ddl
            # An earlier rollback committed, and stopped before it was recorded.
            or str(replacement.column) in column_names(schema_editor, before._meta.db_table)
        ):
            self._backwards_in_steps(schema_editor, before, renamed, replacement, old_field)
            return
        column, source = quote(str(old_field.column)), quote(str(replacement.column))
        with _table_held(schema_editor, before._meta.db_table):
            schema_editor.alter_field(before, renamed, replacement)
            schema_editor.add_field(before, nullable)
            _ColumnSync(
                schema_editor, before, str(old_field.column), str(replacement.column)
            ).create()
            update_in_batches(
                schema_editor,
                before,
                f"{column} = {source}",
                get_backend(schema_editor.connection).is_distinct_sql(column, source),
                batch_size=self.batch_size,
            )
            if not old_field.null:
                schema_editor.alter_field(before, nullable, old_field)

    def _backwards_in_place(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        replacement: Any,
        old_field: Any,
        nullable: Any,
    ) -> None:
        """Run database_backwards when the replacement kept its column (a db_column change).

        Nothing is renamed: the old column is added again (nullable), synced
        from the replacement and filled in batches, then made NOT NULL if it
        was. Each step is skipped when an earlier run did it, so a re-run
        finishes on every backend.
        """
        table = model._meta.db_table
        column, source = str(old_field.column), str(replacement.column)
        if schema_editor.collect_sql or column not in column_names(schema_editor, table):
            schema_editor.add_field(model, nullable)
        _ColumnSync(schema_editor, model, column, source).create()
        _ColumnSync(schema_editor, model, column, source).backfill(
            model, self.batch_size, reverse=True
        )
        if not old_field.null and (
            schema_editor.collect_sql or _is_nullable(schema_editor, table, column)
        ):
            schema_editor.alter_field(model, nullable, old_field)
            # SQLite rebuilt the table without its triggers.
            _ColumnSync(schema_editor, model, column, source).create()

    def _backwards_in_steps(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        renamed: Any,
        replacement: Any,
        old_field: Any,
    ) -> None:
        """Run database_backwards on MariaDB/MySQL, each step finished by a re-run.

        DDL there commits as it goes, and a run may stop anywhere: the old
        column is added under a spare name, synced from the field's column
        and filled in batches; then under ``LOCK TABLES … WRITE`` the two
        columns swap names in one ``ALTER TABLE`` (the replacement getting
        its own back) and the replacement's sync starts. A re-run finds
        which side of the swap the table is on from its columns and re-syncs
        before going on, so the running release's writes in between are kept.
        """
        quote = identifiers.quoter(schema_editor)
        table = model._meta.db_table
        current, column = str(renamed.column), str(old_field.column)
        spare = str(
            schema_editor._create_index_name(  # type: ignore[attr-defined]
                table, [column, str(replacement.column)], suffix="_back"
            )
        )
        columns = column_names(schema_editor, table)
        if str(replacement.column) not in columns:
            if spare not in columns:
                kind = old_field.db_parameters(connection=schema_editor.connection)["type"]
                schema_editor.execute(
                    f"ALTER TABLE {quote(table)} ADD COLUMN {quote(spare)} {kind} NULL"
                )
            filling = _ColumnSync(schema_editor, model, current, spare)
            filling.create()
            filling.backfill(model, self.batch_size, reverse=False)
            with _table_held(schema_editor, table):
                filling.drop()
                schema_editor.execute(
                    f"ALTER TABLE {quote(table)} "
                    f"RENAME COLUMN {quote(current)} TO {quote(str(replacement.column))}, "
                    f"RENAME COLUMN {quote(spare)} TO {quote(column)}"
                )
                _ColumnSync(schema_editor, model, column, str(replacement.column)).create()
        sync = _ColumnSync(schema_editor, model, column, str(replacement.column))
        if not sync.exists():
            # Stopped between the swap and the triggers: the release's writes
            # since are in the old column only.
            sync.create()
        sync.backfill(model, self.batch_size, reverse=False)
        if not old_field.null and _is_nullable(schema_editor, table, column):
            nullable = old_field.clone()
            nullable.null = True
            nullable.set_attributes_from_name(self.old_name)
            nullable.model = model
            schema_editor.alter_field(model, nullable, old_field)


def _is_nullable(schema_editor: BaseDatabaseSchemaEditor, table: str, column: str) -> bool:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return any(info.name == column and info.null_ok for info in description)


@contextmanager
def _table_held(schema_editor: BaseDatabaseSchemaEditor, table: str) -> Iterator[None]:
    """Run the block as one transaction, or under LOCK TABLES … WRITE on MariaDB/MySQL."""
    with get_backend(schema_editor.connection).table_held(schema_editor, table):
        yield
