"""Views under a renamed table's old names, for the release that still uses them.

A phased model rename (or ``db_table`` change) renames the tables in
pre-deploy and leaves a view under each old name, selecting every column of
the renamed table (with the old names of the columns the rename changed, in a
many-to-many table). RenameModelWithViews and AlterModelTableWithViews do
both in one operation: in one transaction on PostgreSQL and SQLite; on
MariaDB/MySQL, which cannot roll DDL back, the view takes the table's place in
one ``RENAME TABLE``. PostgreSQL and MariaDB/MySQL write through such views.
SQLite cannot (it reports neither the key of a row inserted through a view nor
the rows an update changed), so there the old name is a mirror table kept in
sync by triggers (see mirror.py). DropView removes the views in post-deploy;
CreateView makes one on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import names_digest
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation, OperationCategory
from django.db.migrations.state import ProjectState

from . import identifiers, m2m_columns, mirror
from .backends import get_backend
from .foreign_keys import column_names, foreign_key_checks_off
from .operations import constraints
from .patching import swap_attribute
from .verify.derive import add_view, drop_view
from .verify.schema import Schema, StateProjection


class ViewOperation(Operation):
    """Base of CreateView and DropView: which view, of which table."""

    reduces_to_sql = True
    reversible = True
    category = OperationCategory.ALTERATION  # CreateView and DropView say which

    def __init__(
        self,
        name: str,
        model_name: str,
        field_name: str | None = None,
        renamed_columns: dict[str, str] | None = None,
        columns: list[str] | None = None,
    ) -> None:
        self.name = name
        self.model_name = model_name
        self.field_name = field_name
        self.renamed_columns = dict(renamed_columns or {})
        # The view's columns (their names in the view) if not every column of the table.
        self.columns = list(columns) if columns is not None else None

    @property
    def model_name_lower(self) -> str:
        """The model name in lower case, as Django's model operations have it."""
        return self.model_name.lower()

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        """Return the arguments the migration writer writes."""
        kwargs: dict[str, Any] = {"name": self.name, "model_name": self.model_name}
        if self.field_name is not None:
            kwargs["field_name"] = self.field_name
        if self.renamed_columns:
            kwargs["renamed_columns"] = self.renamed_columns
        if self.columns is not None:
            kwargs["columns"] = self.columns
        return self.__class__.__qualname__, [], kwargs

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        """Change nothing: a view is not a model."""

    def references_model(self, name: str, app_label: str) -> bool:
        """Return whether the view is over the model called name's table."""
        return name.lower() == self.model_name_lower

    def _table(self, app_label: str, state: ProjectState) -> type[models.Model]:
        """Return the model whose table the view shows (a many-to-many table's model)."""
        model = state.apps.get_model(app_label, self.model_name)
        if self.field_name is not None:
            field = model._meta.get_field(self.field_name)
            model = field.remote_field.through
        return model

    def create(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState
    ) -> None:
        """Create the view (on SQLite, a mirror table), replacing an earlier run's."""
        model = self._table(app_label, state)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        view = schema_editor.quote_name(self.name)
        backend = get_backend(schema_editor.connection)
        swaps = backend.swaps_views_by_rename
        select = self.select_sql(
            schema_editor, model, renamed=not (swaps and self._beside(schema_editor, model))
        )
        if swaps:
            # Replaced in one statement: no moment without a view (no transactional DDL).
            schema_editor.execute(backend.replace_view_sql(view, select))
            return
        self.drop(app_label, schema_editor, state)
        if backend.views_are_mirrors:
            columns = self._columns(model, schema_editor)
            mirror.create_mirror(schema_editor, model, self.name, columns)
            return
        schema_editor.execute(backend.create_view_sql(view, select))

    def _columns(
        self,
        model: type[models.Model],
        schema_editor: BaseDatabaseSchemaEditor | None = None,
    ) -> list[tuple[str, str]]:
        """Return (table column, view column) pairs of model's table.

        Only the view's ``columns``, where they are given: those of the
        table when it was renamed, which the running release uses. A view
        recreated when post-deploy is rolled back would otherwise take the
        columns pre-deploy added, and their drop, rolling pre-deploy back,
        would break the view (MariaDB) or drop it (PostgreSQL's CASCADE).
        With schema_editor, only the columns the table has now: rolled back,
        a migration gets the state of the forwards plan, which may hold a
        column that another migration of the release, made in another run and
        unapplied before this one, has dropped already.
        """
        to_view = {column: alias for alias, column in self.renamed_columns.items()}
        existing = None
        if schema_editor is not None and not schema_editor.collect_sql:
            # Not renamed yet (MariaDB builds the view's query before the swap).
            if model._meta.db_table in _table_kinds(schema_editor):
                existing = column_names(schema_editor, model._meta.db_table)
        pairs = [
            (str(f.column), to_view.get(str(f.column), str(f.column)))
            for f in model._meta.local_concrete_fields
            if existing is None or f.column in existing
        ]
        if self.columns is not None:
            pairs = [(column, alias) for column, alias in pairs if alias in self.columns]
        return pairs

    def _beside(self, schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model]) -> bool:
        """Return whether the table has the renamed columns' old ones beside them (MariaDB)."""
        if not self.renamed_columns or schema_editor.collect_sql:
            return False
        return set(self.renamed_columns) <= column_names(schema_editor, model._meta.db_table)

    def select_sql(
        self,
        schema_editor: BaseDatabaseSchemaEditor,
        model: type[models.Model],
        *,
        renamed: bool = True,
    ) -> str:
        """Return the view's query: every column of model's table, under its view name.

        renamed=False: the table has the old columns (m2m_columns.py), named
        as they are.
        """
        quote = schema_editor.quote_name
        select = ", ".join(
            quote(column)
            if column == alias
            else (f"{quote(column)} AS {quote(alias)}" if renamed else quote(alias))
            for column, alias in self._columns(model, schema_editor)
        )
        return f"SELECT {select} FROM {quote(model._meta.db_table)}"

    def drop(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState
    ) -> None:
        """Drop the view (on SQLite, the mirror table and its triggers) if it exists."""
        model = self._table(app_label, state)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        backend = get_backend(schema_editor.connection)
        if backend.views_are_mirrors:
            mirror.drop_mirror(schema_editor, self.name)
            return
        schema_editor.execute(backend.drop_view_sql(schema_editor.quote_name(self.name)))


class CreateView(ViewOperation):
    """Create a view named after a renamed table's old name (pre-deploy).

    ``model_name`` is the renamed model; ``field_name`` a many-to-many field of
    it when the view stands for that field's table; ``renamed_columns`` maps
    view columns to the table's columns where the rename changed their name.
    """

    category = OperationCategory.ADDITION

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        table = f"{self.model_name}.{self.field_name}" if self.field_name else self.model_name
        return f"Create view {self.name} on the table of {table} for the running release"

    @property
    def migration_name_fragment(self) -> str:
        """Name fragment for migrations made of this operation."""
        return f"view_{self.name}"[:50]

    def schema_effect(self, app_label: str, projection: StateProjection, schema: Schema) -> None:
        """Record the view (a mirror table on SQLite) the old release reads and writes."""
        key = (app_label, self.model_name_lower)
        table = (
            projection.many_to_many_table(key, self.field_name)
            if self.field_name is not None
            else projection.table_name(key)
        )
        add_view(schema, self.name, table, self.renamed_columns, self.columns)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Create the view."""
        self.create(app_label, schema_editor, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Drop the view."""
        self.drop(app_label, schema_editor, from_state)


class DropView(ViewOperation):
    """Drop a view that CreateView made, once no release uses the old name (post-deploy)."""

    category = OperationCategory.REMOVAL

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        return f"Drop view {self.name}"

    @property
    def migration_name_fragment(self) -> str:
        """Name fragment for migrations made of this operation."""
        return f"drop_view_{self.name}"[:50]

    def schema_effect(self, app_label: str, projection: StateProjection, schema: Schema) -> None:
        """Forget the view."""
        drop_view(schema, self.name)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Drop the view; on MariaDB/MySQL, then swap in the columns pre-deploy added."""
        self.drop(app_label, schema_editor, from_state)
        model = self._table(app_label, from_state)
        if self._swaps_columns(schema_editor, model):
            m2m_columns.contract(schema_editor, model, self.renamed_columns)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Create the view again; on MariaDB/MySQL, over old columns added back first."""
        model = self._table(app_label, to_state)
        if self._swaps_columns(schema_editor, model):
            m2m_columns.expand(schema_editor, model, self.renamed_columns, back_to=self.name)
        self.create(app_label, schema_editor, to_state)

    def _swaps_columns(
        self, schema_editor: BaseDatabaseSchemaEditor, model: type[models.Model]
    ) -> bool:
        """Return whether dropping (or re-creating) the view swaps columns (MariaDB/MySQL)."""
        return bool(
            self.renamed_columns
            and get_backend(schema_editor.connection).swaps_views_by_rename
            and not schema_editor.collect_sql
            and self.allow_migrate_model(schema_editor.connection.alias, model)
        )


ViewSpec = tuple[str, str | None, dict[str, str]]


class _RenamesTables(Operation):
    """Mixin of an operation that renames tables and leaves views under the old names.

    The subclass's Django operation renames the tables; then a view is
    created for each ``(name, field_name, renamed_columns)`` in ``views``
    (see CreateView), in the same transaction where the database can roll
    DDL back: a query of the old release finds either the old table or its
    view, never nothing. MariaDB/MySQL swap each table for its view in one
    ``RENAME TABLE``. DropView removes them in post-deploy.

    Django drops and adds back the foreign keys that point at the renamed
    table (those of its many-to-many tables, and of other models): on
    PostgreSQL they are added ``NOT VALID`` in that transaction and validated
    after its commit, so its locks are not held while every row is checked
    (the migration is written non-atomic for that).
    """

    views: list[ViewSpec]
    _undoing: bool = False
    outside_transaction = True
    # Tables renamed, as RenameModel and AlterModelTable (which it is mixed into).
    category = OperationCategory.ALTERATION

    def _set_views(self, views: list[ViewSpec]) -> None:
        self.views = [(name, field, dict(columns)) for name, field, columns in views]

    def deconstruct(self) -> tuple[str, Sequence[Any], dict[str, Any]]:
        """Return the arguments the migration writer writes: Django's, and the views."""
        name, args, kwargs = super().deconstruct()
        return name, args, {**kwargs, "views": self.views}

    def describe(self) -> str:
        """Describe the operation for makemigrations and migrate --plan."""
        names = ", ".join(name for name, _field, _columns in self.views)
        return f"{super().describe()}, with views {names} for the running release"

    def _model_name(self) -> str:
        raise NotImplementedError  # pragma: no cover

    def _old_model_name(self) -> str:
        return self._model_name()

    def _view_operations(self) -> list[CreateView]:
        model_name = self._model_name()
        return [CreateView(name, model_name, field, columns) for name, field, columns in self.views]

    def schema_effect(self, app_label: str, projection: StateProjection, schema: Schema) -> None:
        """Record the views under the old names, over the renamed tables."""
        for view in self._view_operations():
            view.schema_effect(app_label, projection, schema)

    def _allowed(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState
    ) -> bool:
        """Return whether the routers let this database hold the renamed model's tables.

        state is the state where the model has its new name, as Django's
        rename asks about it.
        """
        model = state.apps.get_model(app_label, self._model_name())
        return bool(self.allow_migrate_model(schema_editor.connection.alias, model))

    def _renamed_already(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, to_state: ProjectState
    ) -> bool:
        """Return whether an earlier run renamed the tables.

        A failed run of a non-atomic migration (PostgreSQL, with concurrent
        index builds or backfills in it) or any failed run on MariaDB/MySQL,
        which cannot roll DDL back, leaves them renamed.
        """
        if schema_editor.collect_sql:
            return False
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            names = identifiers.StoredNames(
                connection, connection.introspection.table_names(cursor, include_views=True)
            )
        model = to_state.apps.get_model(app_label, self._model_name())
        new_tables = [model._meta.db_table] + [
            field.remote_field.through._meta.db_table
            for field in model._meta.local_many_to_many
            if field.remote_field.through._meta.auto_created
        ]
        return all(table in names for table in new_tables)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Rename the tables, then create the views, in one transaction where possible."""
        rename = super().database_forwards
        if self._undoing:
            # Django's database_backwards runs database_forwards with the states swapped.
            rename(app_label, schema_editor, from_state, to_state)
            return
        if not self._allowed(app_label, schema_editor, to_state):
            return
        views = self._view_operations()
        swaps = get_backend(schema_editor.connection).swaps_views_by_rename
        if swaps and not schema_editor.collect_sql:
            # No transactional DDL: swap the view in for the table in one RENAME TABLE.
            views = self._swap_in_view(app_label, schema_editor, from_state, to_state, rename)
            _restore_referencing_keys(
                schema_editor, to_state.apps.get_model(app_label, self._model_name())
            )
        target = to_state.apps.get_model(app_label, self._model_name())._meta.db_table
        with _foreign_keys_validated_after(schema_editor, target), _ddl_transaction(schema_editor):
            if not self._renamed_already(app_label, schema_editor, to_state):
                old_model = from_state.apps.get_model(app_label, self._old_model_name())
                _lock_referencing_first(schema_editor, old_model)
                rename(app_label, schema_editor, from_state, to_state)
            for view in views:
                view.create(app_label, schema_editor, to_state)

    def _swap_in_view(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
        rename: Any,
    ) -> list[CreateView]:
        """Rename the tables and put a view in the place of each atomically (MariaDB).

        For the model's table and each many-to-many table the rename
        renames: a placeholder view takes the new name, the view is created
        on it, and one ``RENAME TABLE`` moves the table to the new name and
        the view to the old one. Django's operation then does the rest with
        the table renames skipped and foreign key checks off (the foreign
        keys it drops and adds back, already valid, are added in place rather
        than by a copy of the table), but for the many-to-many tables: their
        ``<model>_id`` column, which their views name, is not renamed but
        expanded (see m2m_columns.py). Returns the views left to create.
        """
        model = to_state.apps.get_model(app_label, self._model_name())
        views = self._view_operations()
        kinds = _table_kinds(schema_editor)
        renames = []
        done = []
        for view in views:
            new_table = view._table(app_label, to_state)._meta.db_table
            if view.name == new_table:
                continue
            renames.append((view.name, new_table))
            if kinds.get(new_table) == "t":
                # An earlier run swapped it, and may have stopped before dropping the spare.
                _drop_spare_view(schema_editor, new_table, _swap_renames(view.name, new_table))
                continue
            if kinds.get(view.name) != "t":
                continue
            # The table still has its old name: under the new one there is
            # nothing, or the placeholder view of a run that stopped before the swap.
            select = (
                f"SELECT * FROM {schema_editor.quote_name(new_table)}"
                if view.field_name
                else view.select_sql(schema_editor, model)
            )
            _swap_table_for_view(schema_editor, view.name, new_table, select)
            if not view.field_name:
                done.append(view)
        expanded = [view for view in views if view.renamed_columns]
        if not self._columns_renamed_already(app_label, schema_editor, to_state):
            with (
                _skipping_table_renames(schema_editor, renames),
                _skipping_fields_of(schema_editor, _both_names(app_label, expanded, to_state)),
                foreign_key_checks_off(schema_editor),
            ):
                rename(app_label, schema_editor, from_state, to_state)
        for view in expanded:
            through = view._table(app_label, to_state)
            if set(view.renamed_columns) <= column_names(schema_editor, through._meta.db_table):
                m2m_columns.expand(schema_editor, through, view.renamed_columns)
                done.append(view)  # its view names the old columns, which stay
        return [view for view in views if view not in done]

    def _columns_renamed_already(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, to_state: ProjectState
    ) -> bool:
        """Return whether every many-to-many column the rename renames has its new name."""
        for view in self._view_operations():
            table = view._table(app_label, to_state)._meta.db_table
            if view.renamed_columns and not set(view.renamed_columns.values()) <= column_names(
                schema_editor, table
            ):
                return False
        return self._renamed_already(app_label, schema_editor, to_state)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        """Drop the views, then rename the tables back.

        On MariaDB/MySQL, with no transactional DDL, each table instead takes
        its old name back in the ``RENAME TABLE`` that moves its view away,
        and the foreign keys Django drops and adds back go in place (checks
        off: their rows were valid), not by a copy of the table; the columns
        a many-to-many table got beside its old ones are dropped (see
        m2m_columns.py).
        """
        if not self._allowed(app_label, schema_editor, from_state):
            return
        backend = get_backend(schema_editor.connection)
        mysql = backend.swaps_views_by_rename and not schema_editor.collect_sql
        with contextlib.ExitStack() as stack:
            kept = []
            if mysql:
                kept = self._shrink_expanded(app_label, schema_editor, from_state)
                throughs = _both_names(app_label, kept, from_state)
                stack.enter_context(foreign_key_checks_off(schema_editor))
                stack.enter_context(_swapping_views_out(schema_editor, self.views))
                stack.enter_context(_skipping_fields_of(schema_editor, throughs))
            else:
                target = to_state.apps.get_model(app_label, self._old_model_name())
                stack.enter_context(
                    _foreign_keys_validated_after(schema_editor, target._meta.db_table)
                )
                if self._renamed_back_already(app_label, schema_editor, from_state, to_state):
                    return  # but for the foreign keys left NOT VALID, validated on the way out
                stack.enter_context(_ddl_transaction(schema_editor))
                _lock_referencing_first(
                    schema_editor, from_state.apps.get_model(app_label, self._model_name())
                )
                for view in self._view_operations():
                    view.drop(app_label, schema_editor, from_state)
            self._undoing = True
            try:
                super().database_backwards(app_label, schema_editor, from_state, to_state)
            finally:
                self._undoing = False
            old_model = to_state.apps.get_model(app_label, self._old_model_name())
            for view in kept:
                field: Any = old_model._meta.get_field(str(view.field_name))
                through = field.remote_field.through
                m2m_columns.restore_foreign_keys(schema_editor, through, list(view.renamed_columns))
            if mysql:
                _restore_referencing_keys(schema_editor, old_model)

    def _renamed_back_already(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> bool:
        """Return whether an earlier rollback renamed the model's table back (PostgreSQL, SQLite).

        Its transaction committed, but the run stopped before the migration
        was recorded unapplied (or before the foreign keys were validated).
        """
        if schema_editor.collect_sql:
            return False
        kinds = _table_kinds(schema_editor)
        new_table = from_state.apps.get_model(app_label, self._model_name())._meta.db_table
        old_table = to_state.apps.get_model(app_label, self._old_model_name())._meta.db_table
        return new_table != old_table and new_table not in kinds and kinds.get(old_table) == "t"

    def _shrink_expanded(
        self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState
    ) -> list[CreateView]:
        """Drop the columns added beside a many-to-many table's old ones (MariaDB).

        Returns the views of the many-to-many tables that have their old
        columns: Django's rename back must leave their columns alone. A
        table an earlier, interrupted rollback renamed back is looked at
        under its old name.
        """
        kinds = _table_kinds(schema_editor)
        kept = []
        for view in self._view_operations():
            through = view._table(app_label, state)
            table = through._meta.db_table
            if not view.renamed_columns:
                continue
            if kinds.get(table) == "t":
                columns = column_names(schema_editor, table)
            elif kinds.get(view.name) == "t":
                columns = column_names(schema_editor, view.name)
            else:
                continue
            if not set(view.renamed_columns) <= columns:
                continue  # renamed by Django: renamed back by Django
            if kinds.get(table) == "t" and set(view.renamed_columns.values()) & columns:
                m2m_columns.shrink(schema_editor, through, view.renamed_columns)
            kept.append(view)
        return kept


class RenameModelWithViews(_RenamesTables, operations.RenameModel):
    """Django's RenameModel, with views under the old table names (see _RenamesTables)."""

    def __init__(self, old_name: str, new_name: str, views: list[ViewSpec]) -> None:
        super().__init__(old_name, new_name)
        self._set_views(views)

    def _model_name(self) -> str:
        return self.new_name

    def _old_model_name(self) -> str:
        return self.old_name


class AlterModelTableWithViews(_RenamesTables, operations.AlterModelTable):
    """Django's AlterModelTable, with views under the old table names (see _RenamesTables)."""

    def __init__(self, name: str, table: str | None, views: list[ViewSpec]) -> None:
        super().__init__(name, table)
        self._set_views(views)

    def _model_name(self) -> str:
        return self.name


def _both_names(app_label: str, views: list[CreateView], state: ProjectState) -> set[str]:
    """Return the old name (the view's) and the new name of each view's table."""
    return {view.name for view in views} | {
        view._table(app_label, state)._meta.db_table for view in views
    }


def _swap_table_for_view(
    schema_editor: BaseDatabaseSchemaEditor, old_table: str, new_table: str, select: str
) -> None:
    """Move old_table to new_table and a view of select to old_table in one ``RENAME TABLE``.

    select may name new_table: a placeholder view of that name over
    old_table lets the view be created before the swap.
    """
    quote = schema_editor.quote_name
    backend = get_backend(schema_editor.connection)
    renames = _swap_renames(old_table, new_table)
    staged = renames[1][0]
    schema_editor.execute(backend.drop_view_sql(quote(staged)))
    # OR REPLACE: the placeholder of a run that stopped before the swap is replaced.
    schema_editor.execute(
        backend.replace_view_sql(quote(new_table), f"SELECT * FROM {quote(old_table)}")
    )
    schema_editor.execute(backend.create_view_sql(quote(staged), select))
    _rename_moving_view(schema_editor, new_table, renames)


def _swap_renames(old_table: str, new_table: str) -> list[tuple[str, str]]:
    """Return the renames of _swap_table_for_view: the table's, and the staged view's."""
    staged = f"green_{names_digest(old_table, new_table, length=8)}_view"
    return [(old_table, new_table), (staged, old_table)]


def _spare_name(view: str, renames: list[tuple[str, str]]) -> str:
    """Return the name _rename_moving_view moves view to before dropping it."""
    return f"green_{names_digest(view, *(n for pair in renames for n in pair), length=8)}"


def _drop_spare_view(
    schema_editor: BaseDatabaseSchemaEditor, view: str, renames: list[tuple[str, str]]
) -> None:
    """Drop the spare view a _rename_moving_view that stopped after its rename left."""
    schema_editor.execute(
        get_backend(schema_editor.connection).drop_view_sql(
            schema_editor.quote_name(_spare_name(view, renames))
        )
    )


def _rename_moving_view(
    schema_editor: BaseDatabaseSchemaEditor, view: str, renames: list[tuple[str, str]]
) -> None:
    """Move view out of the way and rename each (old, new) of renames in one ``RENAME TABLE``.

    The name view held is free for renames in the same statement; the view,
    under a spare name, is dropped after.
    """
    quote = schema_editor.quote_name
    backend = get_backend(schema_editor.connection)
    spare = quote(_spare_name(view, renames))
    pairs = [(quote(view), spare), *((quote(old), quote(new)) for old, new in renames)]
    schema_editor.execute(backend.drop_view_sql(spare))
    schema_editor.execute(backend.rename_tables_sql(pairs))
    schema_editor.execute(backend.drop_view_sql(spare, if_exists=False))


def _lock_referencing_first(schema_editor: BaseDatabaseSchemaEditor, model: Any) -> None:
    """Lock the tables a rename of model alters, those referencing it first (PostgreSQL).

    The application inserts into a table that references model's (a
    many-to-many table, another model's) and then checks the foreign key,
    which takes a lock on model's table. Were model's table locked first,
    the rename would wait for that insert while the insert waits for the
    rename: a deadlock, broken after ``deadlock_timeout`` or the stage's
    lock timeout, the application stalled meanwhile. Locked in this order
    in one statement, the rename waits for the insert to finish instead.
    """
    backend = get_backend(schema_editor.connection)
    if not backend.locks_referencing_tables_first:
        return
    tables = [
        field.remote_field.through._meta.db_table
        for field in model._meta.local_many_to_many
        if field.remote_field.through._meta.auto_created
    ]
    tables += [
        related.related_model._meta.db_table
        for related in model._meta.related_objects
        if not related.many_to_many and related.related_model._meta.managed
    ]
    quote = schema_editor.quote_name
    names = [quote(table) for table in dict.fromkeys([*tables, model._meta.db_table])]
    schema_editor.execute(backend.lock_tables_sql(names))


def _restore_referencing_keys(schema_editor: BaseDatabaseSchemaEditor, model: Any) -> None:
    """Add back each foreign key to model's table that the tables of other models lack (MariaDB).

    Django's rename drops and adds back the foreign keys pointing at the
    renamed table; a run stopped in between is not renamed again by the
    re-run, which adds the missing ones here, in place (their rows were
    valid: checks off).
    """
    missing = []
    for related in model._meta.related_objects:
        field = related.field
        referencing = related.related_model
        if related.many_to_many or not field.db_constraint or not referencing._meta.managed:
            continue
        table = referencing._meta.db_table
        keys = [
            info
            for info in constraints(schema_editor, table).values()
            if info["foreign_key"] and info["columns"] == [field.column]
        ]
        if not keys:
            missing.append((referencing, field))
    if not missing:
        return
    with foreign_key_checks_off(schema_editor):
        for referencing, field in missing:
            schema_editor.execute(
                schema_editor._create_fk_sql(  # type: ignore[attr-defined]
                    referencing, field, "_fk_%(to_table)s_%(to_column)s"
                )
            )


def _table_kinds(schema_editor: BaseDatabaseSchemaEditor) -> dict[str, str]:
    """Return each table's and view's kind (``"t"`` or ``"v"``), found by the name sent."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        tables = connection.introspection.get_table_list(cursor)
    return identifiers.StoredKinds(connection, ((info.name, info.type) for info in tables))


@contextlib.contextmanager
def _foreign_keys_validated_after(
    schema_editor: BaseDatabaseSchemaEditor, target: str
) -> Iterator[None]:
    """Add the block's foreign keys ``NOT VALID``, then validate them after it (PostgreSQL).

    ``VALIDATE CONSTRAINT`` takes a lock that lets reads and writes go on;
    the block's own transaction (with the table renames' exclusive locks)
    is over by then. Every foreign key Django re-creates in a rename points
    at the renamed table, target: what is validated is each foreign key to
    target still ``NOT VALID``, this run's and those of an earlier run that
    stopped in between (under sqlmigrate, the block's). Elsewhere the block
    runs unchanged.
    """
    backend = get_backend(schema_editor.connection)
    if not backend.concurrent_ddl:
        yield
        return
    pending: list[tuple[str, str]] = []
    create_fk_sql = schema_editor._create_fk_sql  # type: ignore[attr-defined]

    def create_not_valid(model: Any, field: Any, suffix: str) -> Any:
        statement = create_fk_sql(model, field, suffix)
        pending.append((str(statement.parts["table"]), str(statement.parts["name"])))
        return statement

    with (
        swap_attribute(
            schema_editor, "sql_create_fk", backend.not_valid_sql(schema_editor.sql_create_fk)
        ),
        swap_attribute(schema_editor, "_create_fk_sql", create_not_valid),
    ):
        yield
    if not schema_editor.collect_sql:
        quote = schema_editor.quote_name
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(backend.not_valid_foreign_keys_sql(), [quote(target)])
            pending = [(table, quote(name)) for table, name in cursor.fetchall()]
    for table, name in pending:
        schema_editor.execute(backend.validate_constraint_sql(table, name))


@contextlib.contextmanager
def _swapping_views_out(
    schema_editor: BaseDatabaseSchemaEditor, views: list[ViewSpec]
) -> Iterator[None]:
    """Make each rename of a table back to a view's name one swap (MariaDB).

    ``RENAME TABLE view TO spare, table TO view`` then drops the spare: the
    old name never stands empty. Tables whose view is gone rename as usual;
    a table already back under its old name (an interrupted rollback) stays.
    """
    alter_db_table = schema_editor.alter_db_table
    names = {name for name, _field, _columns in views}

    def alter(model: Any, old_db_table: str, new_db_table: str) -> None:
        kinds = _table_kinds(schema_editor)
        if new_db_table in names and kinds.get(new_db_table) == "v":
            _rename_moving_view(schema_editor, new_db_table, [(old_db_table, new_db_table)])
        elif new_db_table in names and old_db_table not in kinds:
            # An earlier, interrupted rollback renamed it back (and may have
            # stopped before dropping the spare view).
            _drop_spare_view(schema_editor, new_db_table, [(old_db_table, new_db_table)])
        else:
            alter_db_table(model, old_db_table, new_db_table)

    with swap_attribute(schema_editor, "alter_db_table", alter):
        yield


@contextlib.contextmanager
def _skipping_table_renames(
    schema_editor: BaseDatabaseSchemaEditor, renames: list[tuple[str, str]]
) -> Iterator[None]:
    """Make the schema editor skip renaming each (old, new) table of renames (done already)."""
    alter_db_table = schema_editor.alter_db_table
    skipped = set(renames)

    def alter(model: Any, old_db_table: str, new_db_table: str) -> None:
        if (old_db_table, new_db_table) not in skipped:
            alter_db_table(model, old_db_table, new_db_table)

    with swap_attribute(schema_editor, "alter_db_table", alter):
        yield


@contextlib.contextmanager
def _skipping_fields_of(
    schema_editor: BaseDatabaseSchemaEditor, tables: set[str]
) -> Iterator[None]:
    """Make the schema editor skip altering the fields of the tables called tables."""
    alter_field = schema_editor.alter_field

    def alter(model: Any, old_field: Any, new_field: Any, strict: bool = False) -> None:
        if model._meta.db_table not in tables:
            alter_field(model, old_field, new_field, strict)

    with swap_attribute(schema_editor, "alter_field", alter):
        yield


def _ddl_transaction(schema_editor: BaseDatabaseSchemaEditor) -> Any:
    """Return a transaction where the database can roll DDL back, else a no-op context."""
    if schema_editor.connection.features.can_rollback_ddl:
        return transaction.atomic(using=schema_editor.connection.alias)
    return contextlib.nullcontext()
