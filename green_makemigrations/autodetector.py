"""The phased autodetector: Django's, with incompatible changes split into deploy stages."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import FieldDoesNotExist
from django.db.migrations import Migration, operations
from django.db.migrations.autodetector import MigrationAutodetector, OperationDependency
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.operations.base import Operation
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED

from . import foreign_keys, identifiers, merged_unique, rules, sync
from . import operations as green_operations
from . import views as views_module
from .constants import Stage
from .exceptions import PhasingError
from .plan import MigrationKey, StageInfo, graph_stages, mark_stage, written_stage
from .questioner import GreenQuestioner

Changes = dict[str, list[Migration]]

# Set while migrate looks for model changes no migration holds yet (after "No
# migrations to apply."): there a change makemigrations would refuse is still
# a change to mention, not a reason to stop the run before its post_migrate
# signal.
only_noticing: ContextVar[bool] = ContextVar("only_noticing", default=False)


if TYPE_CHECKING:
    _AutodetectorBase = MigrationAutodetector
else:
    _AutodetectorBase = object


class AutodetectorMixin(_AutodetectorBase):
    """Split backwards-incompatible changes into pre-deploy and post-deploy steps.

    A mixin for MigrationAutodetector or another app's subclass of it (see
    green_autodetector()); GreenMigrationAutodetector is it on Django's own.

    Django generates the operations; the overridden hooks adjust them: a
    removed field gets a pre-deploy prep step before its post-deploy drop, an
    added NOT NULL field a database default until post-deploy, a field made
    NOT NULL waits for post-deploy, and indexes and check constraints of
    existing tables are built without blocking writes. The operations of each
    app are then built into pre-deploy and post-deploy migrations, each
    tagged with its stage (those that must run outside a transaction in
    non-atomic migrations of their own), and new pre-deploy migrations are
    placed beside post-deploy ones that may still be pending, so one release
    can hold both.
    """

    generated_operations: dict[str, list[Operation]]
    migrations: Changes
    # The autodetector this one adds the stages to: makemigrations --stock
    # runs it alone, and migrate's notice of unmigrated changes falls back on it.
    base_autodetector: ClassVar[type[MigrationAutodetector]] = MigrationAutodetector

    def __init__(
        self,
        from_state: ProjectState,
        to_state: ProjectState,
        questioner: MigrationQuestioner | None = None,
    ) -> None:
        super().__init__(from_state, to_state, questioner or GreenQuestioner())
        self.prep_operations: list[Operation] = []
        # Operations that are post-deploy whatever their kind.
        self.deferred_operations: list[Operation] = []
        # Deferred AlterFields that only drop a database default: nothing
        # done to the model in pre-deploy needs them first.
        self._default_drops: set[int] = set()
        self._positions: dict[int, int] = {}
        # Renamed models whose table keeps its name (a state-only rename).
        self._tables_kept: set[tuple[str, str]] = set()

    def changes(
        self,
        graph: MigrationGraph,
        trim_to_apps: Any = None,
        convert_apps: Any = None,
        migration_name: str | None = None,
    ) -> Changes:
        """Return the phased migrations; for migrate's notice, Django's where we refuse."""
        try:
            return super().changes(graph, trim_to_apps, convert_apps, migration_name)
        except PhasingError:
            if not only_noticing.get():
                raise
            stock = self.base_autodetector(self.from_state, self.to_state, self.questioner)
            return stock.changes(graph, trim_to_apps, convert_apps, migration_name)

    def _ask(self, question: str, *args: Any, default: bool) -> bool:
        """Ask the questioner if it knows the question (Django's do not)."""
        method = getattr(self.questioner, question, None)
        return default if method is None else bool(method(*args))

    def _inform(self, message: str) -> None:
        inform = getattr(self.questioner, "inform", None)
        if inform is not None:
            inform(message)

    # -- operations -------------------------------------------------------

    def _generate_removed_field(self, app_label: str, model_name: str, field_name: str) -> None:
        """Add the pre-deploy prep step of a removed field, then Django's RemoveField."""
        field = self.from_state.models[app_label, model_name].get_field(field_name)
        # Only the field's own unique index outlives the pre-deploy stage:
        # unique_together and constraints naming it go before (they cannot
        # name a field the new models lack).
        unique = rules.unique_reason(field, field_name, {})
        prep = rules.removal_prep(field, unique)
        if prep.field is not None:
            if prep.fallback and not self._ask(
                "ask_nullable_fallback",
                app_label,
                model_name,
                field_name,
                prep.description,
                default=True,
            ):
                fix = (
                    "Drop unique=True in one release (its default then becomes a database "
                    "default), then remove it."
                    if unique and rules.database_default_for(field) is not NOT_PROVIDED
                    else "Give the field a default the database can store (a literal or "
                    "db_default=...) in one release, then remove it."
                )
                raise PhasingError(
                    f"Removing {app_label}.{model_name}.{field_name}: {prep.description}. {fix}"
                )
            operation = operations.AlterField(
                model_name=model_name, name=field_name, field=prep.field
            )
            self.add_operation(app_label, operation)
            self.prep_operations.append(operation)
        super()._generate_removed_field(  # type: ignore[misc]
            app_label, model_name, field_name
        )
        if prep.field is not None:
            # Sort the drop after its prep: a DeleteModel that waits on both
            # would otherwise let Django order them either way.
            remove_field = self.generated_operations[app_label][-1]
            remove_field._auto_deps.append(  # type: ignore[attr-defined]
                OperationDependency(
                    app_label, model_name, field_name, OperationDependency.Type.ALTER
                )
            )

    def _generate_added_field(self, app_label: str, model_name: str, field_name: str) -> None:
        """Add the field with a database default, dropped again in post-deploy.

        The previous release inserts rows without the new column: a NOT NULL
        column needs a database default until that release is gone. Django
        adds it with a default and drops the default in the same migration;
        here the drop (an AlterField to the field as the model declares it)
        waits for post-deploy.
        """
        super()._generate_added_field(  # type: ignore[misc]
            app_label, model_name, field_name
        )
        app_operations = self.generated_operations[app_label]
        added = app_operations[-1]
        if not isinstance(added, operations.AddField):  # pragma: no cover - Django changed
            return
        online = foreign_keys.online_add_field(added) or green_operations.online_add_field(added)
        if isinstance(online, operations.AddField):
            # A foreign key constraint validated, or an index built, without a long lock.
            online._auto_deps = added._auto_deps  # type: ignore[attr-defined]
            app_operations[-1] = added = online
        new_state = self.to_state.models[app_label, model_name]
        unique = rules.unique_reason(added.field, field_name, new_state.options)
        prep = rules.addition_prep(added.field, unique)
        if prep is None:
            return
        if prep.unique:
            not_null = "" if added.field.null else "it is NOT NULL, "
            raise PhasingError(
                f"Adding {app_label}.{model_name}.{field_name}: {not_null}"
                f"{prep.description}: the pre-deploy step fails on a table of two rows, "
                "and the running release's second insert collides with its first. Add it "
                "with null=True, fill unique values (a data migration), then make it NOT "
                "NULL in a later release; or give it a default the database computes per "
                "row (uuid.uuid4 on a UUIDField)."
            )
        if prep.field is None:
            if self._one_off_default_not_asked(added):
                # The real run asks for a one-off default and refuses only an
                # answer the database cannot compute: a dry run (--dry-run,
                # --check) refuses nothing it would accept, so it shows
                # Django's AddField, as Django's own dry run does.
                self._inform(
                    f"{app_label}.{model_name}.{field_name}: NOT NULL without a default. "
                    "Without --dry-run/--check, makemigrations asks for a one-off default: "
                    "one the database can compute becomes a database default until "
                    "post-deploy, any other is refused."
                )
                return
            raise PhasingError(
                f"Adding {app_label}.{model_name}.{field_name}: it is NOT NULL and "
                f"{prep.description}, so the running release's inserts, which do not "
                "know the column, would fail. Give it a default the database can "
                "compute (a literal, timezone.now, uuid.uuid4, or db_default=...), or "
                "add it with null=True first."
            )
        expanded = type(added)(
            model_name=model_name,
            name=field_name,
            field=prep.field,
            preserve_default=added.preserve_default,
        )
        expanded._auto_deps = added._auto_deps  # type: ignore[attr-defined]
        app_operations[-1] = expanded
        final = self.to_state.models[app_label, model_name].get_field(field_name)
        contract = operations.AlterField(model_name=model_name, name=field_name, field=final)
        self.add_operation(
            app_label,
            contract,
            dependencies=[
                OperationDependency(  # type: ignore[list-item]
                    app_label, model_name, field_name, OperationDependency.Type.CREATE
                )
            ],
        )
        self.deferred_operations.append(contract)

    def _one_off_default_not_asked(self, added: operations.AddField) -> bool:
        """Return whether added's one-off default was not asked because of a dry run.

        Django asks the questioner for it (``preserve_default=False``); in a
        dry run its interactive questioner answers None without asking.
        """
        return bool(
            getattr(self.questioner, "dry_run", False)
            and not added.preserve_default
            and added.field.default is None
        )

    def generate_altered_fields(self) -> None:
        """Phase type changes and defer making a field NOT NULL.

        A type change both releases live with and that PostgreSQL does without
        rewriting the table runs as is; a widening that rewrites the table is
        an expand/contract (a column of the new type, kept in sync, swapped in
        post-deploy); anything else is refused with what to do instead. The
        previous release may still write NULL: making a field NOT NULL is
        post-deploy, as a SetNotNull that fills the NULLs from the default in
        batches and, on PostgreSQL, sets NOT NULL without a long lock.
        """
        already = {app: len(ops) for app, ops in self.generated_operations.items()}
        super().generate_altered_fields()
        for app_label, app_operations in self.generated_operations.items():
            position = already.get(app_label, 0)
            while position < len(app_operations):
                operation = app_operations[position]
                if isinstance(operation, operations.AlterField):
                    position += self._phase_altered_field(app_label, app_operations, position)
                position += 1

    def _phase_altered_field(
        self, app_label: str, app_operations: list[Operation], position: int
    ) -> int:
        """Replace the AlterField at position if needed; return how many operations it added."""
        operation: operations.AlterField = app_operations[position]  # type: ignore[assignment]
        old_field = self._old_field(app_label, operation)
        replacement: list[Operation]
        if old_field is not None and not operation.field.many_to_many:
            change = rules.type_change(old_field, operation.field)
            if change.kind is rules.Retype.REFUSE:
                raise PhasingError(self._type_refusal(app_label, operation, change.reason))
            moved = self._moved_column(app_label, operation, old_field)
            if change.kind is not rules.Retype.EXPAND and moved is not None:
                # db_column changes: the old release keeps the old column, the
                # new one uses the new column, kept in sync until post-deploy.
                change = rules.TypeChange(
                    rules.Retype.EXPAND, f"its column changes ({moved[0]} -> {moved[1]})"
                )
            if change.kind is rules.Retype.EXPAND:
                replacement = self._expand_retyped(app_label, operation, old_field, change)
                app_operations[position : position + 1] = replacement
                return len(replacement) - 1
        if self._makes_not_null(app_label, operation):
            # A db_index added (or dropped) with it is built (dropped) online
            # in pre-deploy, on the field still nullable. (A unique constraint
            # stays with SetNotNull: its NULLs are filled first.)
            online = None
            if old_field is not None and old_field.unique == operation.field.unique:
                nullable = operation.field.clone()
                nullable.null = True
                online = green_operations.online_alter_field(
                    operations.AlterField(
                        operation.model_name, operation.name, nullable, operation.preserve_default
                    ),
                    old_field,
                )
            # Backfill in batches; on PostgreSQL validate before SET NOT NULL.
            not_null = green_operations.SetNotNull(
                operation.model_name,
                operation.name,
                operation.field,
                operation.preserve_default,
            )
            not_null._auto_deps = operation._auto_deps  # type: ignore[attr-defined]
            app_operations[position] = not_null
            self.deferred_operations.append(not_null)
            if online is not None:
                online._auto_deps = list(operation._auto_deps)  # type: ignore[attr-defined]
                app_operations.insert(position, online)
                return 1
        elif old_field is not None:
            added = 0
            if _drops_db_default(old_field, operation.field):
                added = self._defer_db_default_drop(app_label, app_operations, position, old_field)
                operation = app_operations[position]  # type: ignore[assignment]
                if added < 0:
                    return 0  # the whole AlterField waits for post-deploy
            # A foreign key constraint validated, or a unique index built,
            # without a long lock.
            online = foreign_keys.online_alter_field(
                operation, old_field
            ) or green_operations.online_alter_field(operation, old_field)
            if online is not None:
                online._auto_deps = operation._auto_deps  # type: ignore[attr-defined]
                app_operations[position] = online
            return added
        return 0

    def _defer_db_default_drop(
        self, app_label: str, app_operations: list[Operation], position: int, old_field: Any
    ) -> int:
        """Keep the field's database default until post-deploy; return operations added.

        The running release's inserts leave the column to its database
        default (``DEFAULT``): dropping it while that release runs makes them
        write NULL. The rest of the AlterField, if any, stays in pre-deploy
        with the old default; an AlterField to the final field, in
        post-deploy, drops it. Returns -1 when the whole AlterField was
        deferred (it changes nothing else).
        """
        operation: operations.AlterField = app_operations[position]  # type: ignore[assignment]
        kept = rules.rebuild_field(operation.field, db_default=old_field.db_default)
        if self.deep_deconstruct(kept) == self.deep_deconstruct(old_field):
            self.deferred_operations.append(operation)
            self._default_drops.add(id(operation))
            return -1
        prep = operations.AlterField(
            model_name=operation.model_name,
            name=operation.name,
            field=kept,
            preserve_default=operation.preserve_default,
        )
        contract = operations.AlterField(
            model_name=operation.model_name,
            name=operation.name,
            field=operation.field,
            preserve_default=operation.preserve_default,
        )
        for step in (prep, contract):
            step._auto_deps = list(operation._auto_deps)  # type: ignore[attr-defined]
        app_operations[position : position + 1] = [prep, contract]
        self.deferred_operations.append(contract)
        self._default_drops.add(id(contract))
        return 1

    def _check_repointed(self) -> None:
        """Raise PhasingError if a relation moves from a deleted model to a created one.

        That is what a model rename looks like when the rename question is
        answered no (or not asked, under ``--noinput``): Django creates the
        new model, re-points the relations at its empty table (an
        AlterField, or a many-to-many field removed and added again) and
        deletes the old one. The existing rows would point at rows the new
        table does not have, and the running release still uses the old
        model.
        """
        renamed_from = set(self.renamed_models.values())
        for (app_label, model_name), model_state in sorted(self.to_state.models.items()):
            old_key = (app_label, self.renamed_models.get((app_label, model_name), model_name))
            old_state = self.from_state.models.get(old_key)
            if old_state is None:
                continue
            for name, field in model_state.fields.items():
                old_name = self.renamed_fields.get((app_label, model_name, name), name)
                old_field = old_state.fields.get(old_name)
                if not (field.is_relation and old_field is not None and old_field.is_relation):
                    continue
                old_target = _target_key(old_field, app_label, old_key)
                new_target = _target_key(field, app_label, (app_label, model_name))
                if (
                    old_target in self.to_state.models
                    or old_target in renamed_from
                    or new_target in self.from_state.models
                    or new_target in self.renamed_models
                ):
                    continue
                old_label, new_label = ".".join(old_target), ".".join(new_target)
                raise PhasingError(
                    f"{app_label}.{model_name}.{name} would point at {new_label}, a new "
                    f"model, instead of {old_label}, which is deleted: the new table starts "
                    "empty, so the existing rows would point at rows it does not have (the "
                    f"migration fails), and the running release still uses {old_label}. If "
                    f"{new_label} is {old_label} renamed, run makemigrations interactively "
                    "(not --noinput) and answer yes when it asks whether "
                    f"{old_label} was renamed. Otherwise create the new model in one release "
                    "(pointing the relations at it once its rows are there) and remove the "
                    "old one in a later release."
                )

    def _old_field(self, app_label: str, operation: operations.AlterField) -> Any:
        """Return the field an AlterField changes, as it was, or None."""
        model_name = operation.model_name_lower
        old_model_name = self.renamed_models.get((app_label, model_name), model_name)
        old_field_name = self.renamed_fields.get(
            (app_label, model_name, operation.name), operation.name
        )
        old_model = self.from_state.models.get((app_label, old_model_name))
        if old_model is None or old_field_name not in old_model.fields:
            return None
        return old_model.get_field(old_field_name)

    def _moved_column(
        self, app_label: str, operation: operations.AlterField, old_field: Any
    ) -> tuple[str, str] | None:
        """Return the old and new column of a field whose db_column changes, or None.

        A renamed field's column is the RenameField's business (see
        _phase_renamed_field); so is one without a column of its own.
        """
        model_name = operation.model_name_lower
        if (app_label, model_name, operation.name) in self.renamed_fields:
            return None
        old_column = _column_name(old_field, operation.name)
        new_column = _column_name(operation.field, operation.name)
        if old_column is None or new_column is None or old_column == new_column:
            return None
        return str(old_column), str(new_column)

    def _type_refusal(self, app_label: str, operation: operations.AlterField, reason: str) -> str:
        label = f"{app_label}.{operation.model_name}.{operation.name}"
        new_type = type(operation.field).__name__
        old_field = self._old_field(app_label, operation)
        moved = None if old_field is None else self._moved_column(app_label, operation, old_field)
        if moved is not None and rules.type_change(old_field, operation.field).kind in (
            rules.Retype.NONE,
            rules.Retype.IN_PLACE,
        ):
            return (
                f"Changing the column of {label}: {reason}. Keep its column (db_column="
                f"'{moved[0]}'; the field's name in Python is free), or add a new field with "
                f"the new column (e.g. {operation.name}_new = models.{new_type}(..., "
                f"db_column='{moved[1]}', null=True)), fill it from {operation.name} in a data "
                f"migration and switch the code to it; remove {operation.name} in a later "
                "release. Or run `makemigrations --stock` for Django's AlterField, which "
                "breaks the running release."
            )
        if operation.field.primary_key:
            fix = (
                "Keep the primary key's type: declare it on the model (e.g. id = "
                "models.AutoField(primary_key=True)) or set default_auto_field on the "
                "app's AppConfig"
            )
        else:
            fix = (
                f"Add a new field instead (e.g. {operation.name}_new = models.{new_type}"
                f"(..., null=True)), fill it from {operation.name} in a data migration and "
                f"switch the code to it; remove {operation.name} in a later release"
            )
        return (
            f"Changing the type of {label}: {reason}. {fix}. Or run `makemigrations "
            "--stock` for Django's AlterField, which breaks or locks the running release."
        )

    def _expand_retyped(
        self,
        app_label: str,
        operation: operations.AlterField,
        old_field: Any,
        change: rules.TypeChange,
    ) -> list[Operation]:
        """Return the expand/contract operations of a type change that rewrites the table."""
        model_name = operation.model_name_lower
        old_model_name = self.renamed_models.get((app_label, model_name), model_name)
        old_state = self.from_state.models[app_label, old_model_name]
        new_state = self.to_state.models[app_label, model_name]
        name = operation.name
        blocker = rules.retype_blockers(old_field, old_state.options, name) or (
            rules.retype_blockers(operation.field, new_state.options, name)
        )
        if blocker is not None:
            raise PhasingError(
                self._type_refusal(app_label, operation, f"{change.reason}, and {blocker}")
            )
        shadow = f"{name}_retyped"
        while shadow in old_state.fields or shadow in new_state.fields:
            shadow += "_"
        prep = rules.rename_prep(old_field, operation.field)
        assert prep.new_field is not None  # not a key, relation or generated field
        final = operation.field
        old_name = self.renamed_fields.get((app_label, model_name, name), name)
        old_column, final_column = _column_name(old_field, old_name), _column_name(final, name)
        retyped = rules.type_change(old_field, final).kind is rules.Retype.EXPAND
        if old_column != final_column and str(old_column).lower() == str(final_column).lower():
            only_case = (
                f"its column changes only in case ({old_column} -> {final_column}): one "
                "column on MariaDB/MySQL and SQLite, two on PostgreSQL"
            )
            raise PhasingError(
                self._type_refusal(
                    app_label,
                    operation,
                    f"{change.reason}, and {only_case}" if retyped else only_case,
                )
            )
        column = _retyped_column(old_state, new_state, name, final)
        added = _with_db_column(prep.new_field, None if column == shadow else column)
        label = f"{app_label}.{model_name}.{name}"
        pre: list[Operation] = []
        if old_column == final_column:
            self._inform(
                f"Changing the type of {label}: {change.reason}, so a column {column} of "
                "the new type is kept in sync in pre-deploy and replaces it in post-deploy. "
                "Until then the new release writes the old type."
            )
        else:
            # The new release writes the new column only: the old one must
            # take its inserts until the trigger fills it.
            self._inform(
                f"Changing the {'type and column' if retyped else 'column'} of {label}: "
                f"{change.reason}, so column {column} is added and kept in sync with "
                f"{old_column} by triggers in pre-deploy (the running release goes on using "
                f"{old_column}), and replaces it in post-deploy. Keep db_column='{old_column}' "
                "to change nothing in the database."
                + (
                    " Until then the new release's values must fit the old column's type "
                    "(the triggers copy them there)."
                    if rules.type_change(old_field, final).kind is not rules.Retype.NONE
                    else ""
                )
            )
            if prep.old_field is not None:
                pre.append(
                    operations.AlterField(model_name=model_name, name=name, field=prep.old_field)
                )
        add = operations.AddField(model_name=model_name, name=shadow, field=added)
        pre += [
            green_operations.online_add_field(add) or add,  # its index built online
            sync.SyncRetypedColumn(model_name, name, shadow),
        ]
        # ReplaceColumn stops the sync itself, in the transaction of the swap,
        # and gives the field its final column.
        replace = sync.ReplaceColumn(model_name, name, shadow)
        if added.db_column != final.db_column:
            replace = sync.ReplaceColumn(model_name, name, shadow, db_column=final.db_column)
        post: list[Operation] = [replace]
        swapped = _with_db_column(added, final.db_column)
        if self.deep_deconstruct(swapped) != self.deep_deconstruct(final):
            if not final.null:
                post.append(green_operations.SetNotNull(model_name, name, final))
            else:
                post.append(operations.AlterField(model_name=model_name, name=name, field=final))
        for step in (*pre, *post):
            step._auto_deps = list(operation._auto_deps)  # type: ignore[attr-defined]
        self.deferred_operations.extend(post)
        return [*pre, *post]

    def generate_altered_order_with_respect_to(self) -> None:
        """Refuse order_with_respect_to set on, or removed from, an existing table.

        Setting it, Django adds a NOT NULL ``_order`` column with a default
        of 0 and drops the default in the same step: the running release,
        whose inserts leave the column out, fails from then on. Removing it
        drops ``_order`` (post-deploy), and until then the new release's
        inserts leave it out. Django offers no operation that keeps a
        database default on ``_order``, so both are refused, with the ways to
        make the change instead.
        """
        already = {app: len(ops) for app, ops in self.generated_operations.items()}
        super().generate_altered_order_with_respect_to()
        for app_label, app_operations in self.generated_operations.items():
            for operation in app_operations[already.get(app_label, 0) :]:
                if not isinstance(operation, operations.AlterOrderWithRespectTo):
                    continue
                model_name = operation.name_lower
                old_name = self.renamed_models.get((app_label, model_name), model_name)
                old_state = self.from_state.models.get((app_label, old_name))
                if old_state is None:
                    continue  # a new table
                if old_state.options.get("proxy") or not old_state.options.get("managed", True):
                    continue
                had = bool(old_state.options.get("order_with_respect_to"))
                if not operation.order_with_respect_to:
                    if had:
                        raise PhasingError(
                            f"Removing order_with_respect_to from {app_label}."
                            f"{old_state.name} drops its NOT NULL _order column in "
                            "post-deploy, and until then the new release's inserts, which "
                            "do not know the column, would fail (it has no database "
                            "default). Run `makemigrations --stock` and apply that "
                            "migration when no older release runs."
                        )
                    continue
                if had:
                    continue  # _order already there: no DDL
                raise PhasingError(
                    f"Setting order_with_respect_to='{operation.order_with_respect_to}' on "
                    f"{app_label}.{old_state.name} adds a NOT NULL _order column without a "
                    "database default, so the running release's inserts, which do not know "
                    "the column, would fail after pre-deploy. Set it when the model is "
                    "created, or keep your own ordering field (an IntegerField with a "
                    "default, added as any field); or run `makemigrations --stock` and "
                    "apply that migration when no older release runs."
                )

    def generate_altered_unique_together(self) -> None:
        """Build added unique_together sets of existing tables without blocking writes."""
        with self._replacing_new_operations(
            operations.AlterUniqueTogether,
            lambda operation, _: green_operations.online_unique_together(operation),
        ):
            super().generate_altered_unique_together()

    def _makes_not_null(self, app_label: str, operation: operations.AlterField) -> bool:
        """Return whether an AlterField turns a nullable column NOT NULL."""
        old_field = self._old_field(app_label, operation)
        new_field = operation.field
        return bool(
            old_field is not None
            and old_field.null
            and not new_field.null
            and not new_field.many_to_many
        )

    def generate_renamed_models(self) -> None:
        """Keep a renamed table's old name as a view until post-deploy.

        RenameModel renames the table (and the tables of its many-to-many
        fields) in pre-deploy; a view under each old name lets the old release
        go on reading and writing; post-deploy drops the views.
        """
        already = {app: len(ops) for app, ops in self.generated_operations.items()}
        super().generate_renamed_models()
        for app_label, app_operations in list(self.generated_operations.items()):
            for position in range(already.get(app_label, 0), len(app_operations)):
                operation = app_operations[position]
                if type(operation) is operations.RenameModel:
                    phased = self._phase_renamed_model(app_label, operation)
                    if phased is not None:
                        phased._auto_deps = operation._auto_deps  # type: ignore[attr-defined]
                        app_operations[position] = phased

    def _phase_renamed_model(
        self, app_label: str, rename: operations.RenameModel
    ) -> Operation | None:
        """Return the RenameModelWithViews replacing rename, or None if it needs none."""
        old_state = self.from_state.models[app_label, rename.old_name_lower]
        new_state = self.to_state.models[app_label, rename.new_name_lower]
        old_table, new_table = _table_name(old_state), _table_name(new_state)
        label = f"{app_label}.{rename.old_name}"
        keep = f"Keep db_table='{old_table}' to rename without touching the database."
        if old_state.options.get("proxy") or not old_state.options.get("managed", True):
            return None
        old_model = self.from_state.apps.get_model(app_label, rename.old_name)
        new_model = self.to_state.apps.get_model(app_label, rename.new_name)
        kept = _kept_through_columns_renamed(old_model, new_model)
        if kept:
            raise PhasingError(self._through_column_refusal(label, rename.new_name, kept))
        if old_table == new_table and not old_state.options.get("db_table"):
            # The new model declares the old default name as its db_table.
            # Django renames the table to the new default name, then back
            # (its AlterModelTable): a moment without the table on
            # MariaDB/MySQL, locks elsewhere. Both operations as state only.
            self._tables_kept.add((app_label, rename.new_name_lower))
            return operations.SeparateDatabaseAndState(
                state_operations=[
                    rename,
                    operations.AlterModelTable(name=rename.new_name, table=new_table),
                ]
            )
        if old_table == new_table or old_state.options.get("db_table"):
            # RenameModel keeps an explicit db_table: an AlterModelTable renames the table.
            return None
        if new_state.options.get("db_table"):
            raise PhasingError(
                f"Renaming {label} to {rename.new_name} and giving it db_table="
                f"'{new_table}' rename its table twice in one migration, and the view "
                f"under the first name would not follow the second. {keep} Then set the "
                "new db_table in a later release (phased with a view)."
            )
        self._inform(
            f"Renaming {label} to {rename.new_name} renames table {old_table} to "
            f"{new_table}: phased (a view named {old_table} serves the running release "
            f"until post-deploy). {keep}"
        )
        views = self._table_views(app_label, old_model, new_model, rename.new_name)
        return views_module.RenameModelWithViews(rename.old_name, rename.new_name, views)

    def _through_column_refusal(
        self, label: str, new_name: str, kept: list[tuple[str, str, str, str]]
    ) -> str:
        """Return why a model rename that renames columns of kept through tables is refused."""
        columns = "; ".join(
            f"column {old} to {new} of table {table} ({field})" for table, old, new, field in kept
        )
        fields = ", ".join(dict.fromkeys(field for _t, _o, _n, field in kept))
        keys = ", ".join(
            dict.fromkeys(
                f"{old.removesuffix('_id')} = models.ForeignKey(...)" for _t, old, _n, _f in kept
            )
        )
        return (
            f"Renaming {label} to {new_name} renames {columns}, which the running release "
            "uses; the table keeps its name, so no view can stand in for the old column. "
            f"First give {fields} an explicit through model, in a release of its own: "
            f"db_table set to that table, ForeignKeys that keep the columns ({keys}), "
            "switched to with a state-only migration (migrations.SeparateDatabaseAndState, "
            "as Django's documentation shows for changing a ManyToManyField to use a "
            "through model). Then rename the model: no column changes."
        )

    def _table_views(
        self, app_label: str, old_model: Any, new_model: Any, model_name: str
    ) -> list[views_module.ViewSpec]:
        """Return the views keeping a model's old table names, and add their post-deploy drops.

        One for the model's table, one for each auto-created many-to-many
        table whose name changes, its columns under their old names.
        """
        views: list[views_module.ViewSpec] = [(old_model._meta.db_table, None, {})]
        # The columns of each view, as the running release names them.
        columns = [[str(f.column) for f in old_model._meta.local_concrete_fields]]
        for old_field in old_model._meta.local_many_to_many:
            old_through = old_field.remote_field.through._meta
            new_field = new_model._meta.get_field(old_field.name)
            new_through = new_field.remote_field.through._meta
            if not new_through.auto_created or old_through.db_table == new_through.db_table:
                continue
            renamed = {
                str(old.column): str(new.column)
                for old, new in zip(
                    old_through.local_concrete_fields,
                    new_through.local_concrete_fields,
                    strict=True,
                )
                if old.column != new.column
            }
            views.append((old_through.db_table, old_field.name, renamed))
            columns.append([str(f.column) for f in old_through.local_concrete_fields])
        for (name, field_name, renamed_columns), view_columns in zip(views, columns, strict=True):
            drop = views_module.DropView(
                name, model_name, field_name, renamed_columns, columns=view_columns
            )
            self.add_operation(app_label, drop)
            self.deferred_operations.append(drop)
        return views

    def generate_altered_db_table(self) -> None:
        """Keep a table's old name as a view until post-deploy when db_table changes."""
        already = {app: len(ops) for app, ops in self.generated_operations.items()}
        super().generate_altered_db_table()
        for app_label, app_operations in list(self.generated_operations.items()):
            # A renamed model's table change that its state-only rename holds already.
            app_operations[already.get(app_label, 0) :] = [
                operation
                for operation in app_operations[already.get(app_label, 0) :]
                if type(operation) is not operations.AlterModelTable
                or (app_label, operation.name_lower) not in self._tables_kept
            ]
            for position in range(already.get(app_label, 0), len(app_operations)):
                operation = app_operations[position]
                if type(operation) is not operations.AlterModelTable:
                    continue
                new_state = self.to_state.models[app_label, operation.name_lower]
                old_name = self.renamed_models.get(
                    (app_label, operation.name_lower), operation.name_lower
                )
                old_state = self.from_state.models[app_label, old_name]
                if new_state.options.get("proxy") or not new_state.options.get("managed", True):
                    continue
                old_table, new_table = _table_name(old_state), _table_name(new_state)
                if old_table == new_table:
                    continue
                self._inform(
                    f"Changing the table of {app_label}.{new_state.name} from {old_table} to "
                    f"{new_table}: phased (a view named {old_table} serves the running "
                    "release until post-deploy)."
                )
                views = self._table_views(
                    app_label,
                    self.from_state.apps.get_model(app_label, old_name),
                    self.to_state.apps.get_model(app_label, operation.name),
                    new_state.name,
                )
                phased = views_module.AlterModelTableWithViews(
                    operation.name, operation.table, views
                )
                phased._auto_deps = operation._auto_deps  # type: ignore[attr-defined]
                app_operations[position] = phased

    def generate_renamed_fields(self) -> None:
        """Phase a field rename that changes the column; keep one that does not.

        The old release uses the old column, the new release the new one: in
        pre-deploy the new column is added, triggers copy every write between
        the two and the existing values are copied in batches; post-deploy
        stops the sync, drops the old column and makes the new one NOT NULL
        (or gives it its default) as the model declares.
        """
        already = {app: len(ops) for app, ops in self.generated_operations.items()}
        super().generate_renamed_fields()
        for app_label, app_operations in self.generated_operations.items():
            position = already.get(app_label, 0)
            while position < len(app_operations):
                operation = app_operations[position]
                if isinstance(operation, operations.RenameField):
                    phased = self._phase_renamed_field(app_label, app_operations, position)
                    position += phased
                position += 1

    def _phase_renamed_field(
        self, app_label: str, app_operations: list[Operation], position: int
    ) -> int:
        """Replace the RenameField at position (and Django's AlterField before it).

        Returns how many operations were added to the list.
        """
        rename: operations.RenameField = app_operations[position]  # type: ignore[assignment]
        model_name = rename.model_name_lower
        old_model_name = self.renamed_models.get((app_label, model_name), model_name)
        old_field = self.from_state.models[app_label, old_model_name].get_field(rename.old_name)
        new_field = self.to_state.models[app_label, model_name].get_field(rename.new_name)
        old_column = _column_name(old_field, rename.old_name)
        new_column = _column_name(new_field, rename.new_name)
        old_table = _table_name(self.from_state.models[app_label, old_model_name])
        new_table = _table_name(self.to_state.models[app_label, model_name])
        label = f"{app_label}.{model_name}.{rename.old_name}"
        if new_field.many_to_many:
            old_through = old_field.db_table or f"{old_table}_{rename.old_name}"
            if new_field.remote_field.through or old_through == (
                new_field.db_table or f"{new_table}_{rename.new_name}"
            ):
                return 0
            raise PhasingError(
                f"Renaming {label} to {rename.new_name} renames its table {old_through}, "
                "which breaks the release that uses the old name. Keep "
                f"db_table='{old_through}' on the field to rename without touching "
                "the database."
            )
        if old_column == new_column:
            return 0
        keep = f"db_column='{old_column}'"
        prep = rules.rename_prep(old_field, new_field)
        target = self._renamed_target_elsewhere(app_label, new_field)
        refusal = (
            prep.refusal
            or self._relations_naming(app_label, old_model_name, rename.old_name)
            or (
                target
                and f"it points at {target}, renamed in the same run in another app (make "
                "one of the two renames in a later release)"
            )
        )
        if refusal or prep.new_field is None:
            raise PhasingError(
                f"Renaming {label} to {rename.new_name} changes its database name, and "
                f"this rename cannot be phased: {refusal}. Keep the database name "
                f"({keep}) to rename without touching the database."
            )
        self._inform(
            f"Renaming {label} to {rename.new_name} renames column {old_column} to "
            f"{new_column}: phased (new column kept in sync by triggers until "
            f"post-deploy). Keep {keep} to rename without touching the database."
        )
        start = position
        if start > 0:
            before = app_operations[start - 1]
            if (
                isinstance(before, operations.AlterField)
                and before.model_name_lower == model_name
                and before.name_lower == rename.old_name_lower
            ):
                start -= 1  # Django's no-op AlterField that carries db_column over.
        pre: list[Operation] = []
        if prep.old_field is not None:
            pre.append(
                operations.AlterField(
                    model_name=model_name, name=rename.old_name, field=prep.old_field
                )
            )
        pre.append(
            operations.AddField(model_name=model_name, name=rename.new_name, field=prep.new_field)
        )
        pre.append(sync.SyncRenamedColumns(model_name, rename.old_name, rename.new_name))
        post: list[Operation] = [
            sync.StopSyncRenamedColumns(model_name, rename.old_name, rename.new_name),
            operations.RemoveField(model_name=model_name, name=rename.old_name),
        ]
        if self.deep_deconstruct(prep.new_field) != self.deep_deconstruct(new_field):
            # A copy: Django goes on changing the to_state's fields.
            final = new_field.clone()
            if not new_field.null:
                post.append(green_operations.SetNotNull(model_name, rename.new_name, final))
            else:
                post.append(
                    operations.AlterField(model_name=model_name, name=rename.new_name, field=final)
                )
        dependencies = list(getattr(rename, "_auto_deps", []))
        if new_field.is_relation:
            # The new column's foreign key needs its target (perhaps renamed too).
            dependencies += self._get_dependencies_for_foreign_key(  # type: ignore[attr-defined]
                app_label, model_name, new_field, self.to_state
            )
        for operation in (*pre, *post):
            operation._auto_deps = list(dependencies)  # type: ignore[attr-defined]
        self.deferred_operations.extend(post)
        app_operations[start : position + 1] = [*pre, *post]
        return len(pre) + len(post) - (position + 1 - start)

    def _renamed_target_elsewhere(self, app_label: str, field: Any) -> str | None:
        """Return the label of field's target if another app renames it in this run."""
        if not field.is_relation or field.remote_field is None:
            return None
        target = field.remote_field.model
        if not isinstance(target, str):
            target = target._meta.label_lower
        label, _, name = target.rpartition(".")
        key = (label or app_label, name.lower())
        if key[0] != app_label and key in self.renamed_models:
            return f"{key[0]}.{name}"
        return None

    def _relations_naming(self, app_label: str, model_name: str, field_name: str) -> str | None:
        """Say which relation names a field of the old state as its target or source, if any.

        Such a relation (``to_field``, a ForeignObject's ``to_fields`` or
        ``from_fields``) would go on naming the old column.
        """
        for (other_app, other_model), model_state in self.from_state.models.items():
            for name, field in model_state.fields.items():
                remote = field.remote_field
                if remote is None:
                    continue
                if (other_app, other_model) == (app_label, model_name) and field_name in getattr(
                    field, "from_fields", ()
                ):
                    return f"{other_app}.{other_model}.{name} uses it in from_fields"
                target = remote.model
                if isinstance(target, str):
                    if target == "self":
                        target_key = (other_app, other_model)
                    else:
                        label, _, target_name = target.rpartition(".")
                        target_key = (label or other_app, target_name.lower())
                else:
                    target_key = (target._meta.app_label, str(target._meta.model_name))
                if target_key != (app_label, model_name):
                    continue
                to_fields = [getattr(remote, "field_name", None), *getattr(field, "to_fields", ())]
                if field_name in to_fields:
                    return f"{other_app}.{other_model}.{name} points at it"
        return None

    def generate_added_indexes(self) -> None:
        """Build new indexes of existing tables without blocking writes."""
        with self._replacing_new_operations(
            operations.AddIndex, lambda operation, _: _add_index_concurrently(operation)
        ):
            super().generate_added_indexes()

    def generate_removed_indexes(self) -> None:
        """Drop indexes of kept tables without blocking writes."""
        with self._replacing_new_operations(
            operations.RemoveIndex, lambda operation, _: _remove_index_concurrently(operation)
        ):
            super().generate_removed_indexes()

    def generate_added_constraints(self) -> None:
        """Add check and unique constraints to existing tables without blocking writes."""
        with self._replacing_new_operations(
            operations.AddConstraint,
            lambda operation, _: green_operations.online_add_constraint(operation),
        ):
            super().generate_added_constraints()

    def generate_removed_constraints(self) -> None:
        """Remove unique constraints without the uniqueness of a field that shares their index."""

        def replace(operation: operations.RemoveConstraint, app_label: str) -> Operation | None:
            model = operation.model_name_lower
            if merged_unique.merged_field(self.from_state, app_label, model, operation.name):
                return merged_unique.RemoveConstraintKeepingFieldUnique(
                    operation.model_name, operation.name
                )
            return None

        with self._replacing_new_operations(operations.RemoveConstraint, replace):
            super().generate_removed_constraints()

    @contextmanager
    def _replacing_new_operations(
        self,
        kind: type[Operation],
        replace: Callable[[Any, str], Operation | None],
    ) -> Iterator[None]:
        """Swap the operations of kind that the block generates for replace()'s result.

        Django's generate_* methods add the operations; this keeps their
        dependencies and order and only changes the operation's class.
        """
        already = {app: len(ops) for app, ops in self.generated_operations.items()}
        yield
        for app_label, app_operations in self.generated_operations.items():
            for position in range(already.get(app_label, 0), len(app_operations)):
                operation = app_operations[position]
                if type(operation) is not kind:
                    continue
                replacement = replace(operation, app_label)
                if replacement is not None:
                    replacement._auto_deps = operation._auto_deps  # type: ignore[attr-defined]
                    app_operations[position] = replacement

    # -- migrations -------------------------------------------------------

    def _build_migration_list(self, graph: MigrationGraph | None = None) -> None:
        """Build Django's migrations twice: pre-deploy operations, then post-deploy ones."""
        self._check_repointed()
        tableless_models = {
            key
            for key, model_state in self.from_state.models.items()
            if model_state.options.get("proxy") or not model_state.options.get("managed", True)
        }
        deleted_models = {
            (app_label, operation.name_lower)
            for app_label, app_operations in self.generated_operations.items()
            for operation in app_operations
            if isinstance(operation, operations.DeleteModel)
        } - tableless_models
        by_stage: dict[Stage, dict[str, list[Operation]]] = {stage: {} for stage in Stage}
        deferred = {id(operation) for operation in self.deferred_operations}
        # Django has sorted each app's operations (_sort_migrations).
        self._positions = {}
        for app_label, app_operations in self.generated_operations.items():
            for position, operation in enumerate(app_operations):
                self._positions[id(operation)] = position
                stage = rules.operation_stage(
                    operation, app_label, deleted_models, tableless_models
                )
                if id(operation) in deferred:
                    stage = Stage.POST_DEPLOY
                by_stage[stage].setdefault(app_label, []).append(operation)
        self._check_phasable(by_stage[Stage.PRE_DEPLOY], by_stage[Stage.POST_DEPLOY])
        # SQLite rebuilds a table to alter it, dropping its triggers: the syncs
        # start after every other change of the stage, and stop (and views go)
        # before them.
        starting = (sync.SyncRenamedColumns,)
        stopping = (sync.StopSyncRenamedColumns, views_module.DropView)
        for app_operations in by_stage[Stage.PRE_DEPLOY].values():
            app_operations.sort(key=lambda op: isinstance(op, starting))
        for app_operations in by_stage[Stage.POST_DEPLOY].values():
            app_operations.sort(key=lambda op: not isinstance(op, stopping))

        built: dict[Stage, Changes] = {}
        for stage in Stage:
            self.generated_operations = by_stage[stage]
            super()._build_migration_list(graph)  # type: ignore[misc]
            self._isolate_outside_transaction()
            built[stage] = self.migrations
            for migrations in self.migrations.values():
                for migration in migrations:
                    mark_stage(migration, stage)
        self.migrations = self._join_stages(built[Stage.PRE_DEPLOY], built[Stage.POST_DEPLOY])

    def _isolate_outside_transaction(self) -> None:
        """Give operations that run outside a transaction migrations of their own.

        CREATE INDEX CONCURRENTLY and friends cannot run in a transaction, so
        neither can the migration holding them; the other operations of the
        stage stay in an atomic migration. Such an operation moves after the
        atomic operations that follow it unless one of them must follow it
        (see _transaction_chunks()): then the migration is cut there, keeping
        Django's order. An index on a field added in the same stage comes
        after the field's migration. The new migrations are numbered in order
        (auto_1, auto_2…, which _join_stages() and arrange_for_graph() rename
        as before; Django's _optimize_migrations() chains them) and a
        dependency of another app on a split migration points to its last
        part, which completes it.
        """
        renamed: dict[tuple[str, str], tuple[str, str]] = {}
        for app_label, migrations in self.migrations.items():
            parts: list[Migration] = []
            for migration in migrations:
                old_name = migration.name
                chunks = _transaction_chunks(migration.operations, app_label)
                for position, (chunk, outside) in enumerate(chunks or [([], False)]):
                    part = migration if position == 0 else type(migration)(old_name, app_label)
                    if position:
                        part.dependencies = []  # type: ignore[misc]  # chained by Django later
                        part.initial = migration.initial  # type: ignore[misc]
                    part.operations = chunk  # type: ignore[misc]
                    if outside:
                        part.atomic = False  # type: ignore[misc]
                    part.name = f"auto_{len(parts) + 1}"
                    parts.append(part)
                renamed[app_label, old_name] = (app_label, parts[-1].name)
            migrations[:] = parts
        for migrations in self.migrations.values():
            for migration in migrations:
                migration.dependencies = [  # type: ignore[misc]
                    renamed.get(tuple(dependency), dependency)  # type: ignore[arg-type]
                    for dependency in migration.dependencies
                ]

    def _check_phasable(
        self, pre: dict[str, list[Operation]], post: dict[str, list[Operation]]
    ) -> None:
        """Raise PhasingError if a pre-deploy operation needs a post-deploy one first.

        That is the case when it declares a dependency the post-deploy one
        satisfies, or when Django ordered it after a post-deploy operation on
        the same field or model (e.g. a field removed, then added again).
        """
        self._check_reused_columns(pre, post)
        self._check_reused_names(pre, post)
        problems = []
        for app_label, app_operations in pre.items():
            for operation in app_operations:
                for dependency in getattr(operation, "_auto_deps", []):
                    resolved = self._resolve_dependency(dependency)[0]  # type: ignore[attr-defined]
                    for other in post.get(resolved.app_label, []):
                        if self.check_dependency(other, resolved):
                            problems.append((app_label, operation, resolved.app_label, other))
                position = self._positions[id(operation)]
                for other in post.get(app_label, []):
                    if isinstance(other, views_module.DropView):
                        continue  # dropped first, whatever came before it
                    if id(other) in self._default_drops:
                        continue  # the default only: nothing needs it gone first
                    if self._positions[id(other)] < position and rules.operations_conflict(
                        [operation], app_label, [other], app_label
                    ):
                        problems.append((app_label, operation, app_label, other))
        if problems:
            problems = list(dict.fromkeys(problems))  # found by dependency and by order
            lines = [
                "These changes cannot be split into deploy stages: a change the new "
                "release needs before it starts would have to run after a drop that "
                "must wait until the old release is gone."
            ]
            lines += [
                f"  - {_model_label(app, operation)}: {operation.describe()} needs "
                f"{_model_label(other_app, other)}: {other.describe()} first."
                for app, operation, other_app, other in problems
            ]
            lines.append(
                "Make them in two releases: first the removal (deploy it through its "
                "post-deploy stage), then the rest. Or run `makemigrations --stock` "
                "for Django's single migration, which breaks the running release."
            )
            raise PhasingError("\n".join(lines))

    def _check_reused_columns(
        self, pre: dict[str, list[Operation]], post: dict[str, list[Operation]]
    ) -> None:
        """Raise PhasingError if a field is added under the column of a field dropped later.

        The column would have to be dropped (post-deploy) before it is added
        (pre-deploy): typically a rename Django does not see, the old field
        having had ``db_column`` set to the new field's name.
        """
        dropped: dict[tuple[str, str, str | None], str] = {}
        for app_label, app_operations in post.items():
            for operation in app_operations:
                if not isinstance(operation, operations.RemoveField):
                    continue
                model_name = operation.model_name_lower
                old_model = self.renamed_models.get((app_label, model_name), model_name)
                model_state = self.from_state.models.get((app_label, old_model))
                if model_state is None or operation.name not in model_state.fields:
                    continue
                column = _column_name(model_state.get_field(operation.name), operation.name)
                dropped[app_label, model_name, column] = operation.name
        for app_label, app_operations in pre.items():
            for operation in app_operations:
                if not isinstance(operation, operations.AddField):
                    continue
                if operation.field.many_to_many:
                    continue
                column = _column_name(operation.field, operation.name)
                old_name = dropped.get((app_label, operation.model_name_lower, column))
                if old_name is None or column is None or old_name == operation.name:
                    continue  # the same field re-added: the check below explains it
                label = f"{app_label}.{operation.model_name_lower}"
                raise PhasingError(
                    f"{label}.{old_name} is removed and {label}.{operation.name} added with "
                    f"the same column, {column}: the new field would need the column before "
                    "the old one's drop, which waits for post-deploy. If it is a rename, give "
                    f"{operation.name} db_column='{column}' and answer yes when makemigrations "
                    "asks about the rename: it needs no SQL. Otherwise "
                    "remove the old field in one release and add the new one in the next."
                )

    def _check_reused_names(
        self, pre: dict[str, list[Operation]], post: dict[str, list[Operation]]
    ) -> None:
        """Raise PhasingError if pre-deploy creates a table or index name a post-deploy drop frees.

        A model deleted (or an index or constraint removed) in post-deploy
        keeps its table and its index and constraint names until then; a
        model, index or constraint created under one of those names in
        pre-deploy would fail to apply (index names are per schema on
        PostgreSQL and SQLite). Django runs the drop first; the stages cannot.
        """
        freed: dict[str, str] = {}
        for app_label, app_operations in post.items():
            for operation in app_operations:
                if isinstance(operation, operations.DeleteModel):
                    model_state = self.from_state.models.get((app_label, operation.name_lower))
                    if model_state is None or not _has_own_table(model_state):
                        continue
                    label = f"{app_label}.{model_state.name}"
                    freed[_table_name(model_state).lower()] = f"table of {label}"
                    for name in _index_names(model_state.options):
                        freed[name.lower()] = f"index or constraint of {label}"
                elif isinstance(operation, (operations.RemoveIndex, operations.RemoveConstraint)):
                    model_state = self.from_state.models.get(
                        (app_label, operation.model_name_lower)
                    )
                    name = model_state.name if model_state is not None else operation.model_name
                    label = f"{app_label}.{name}"
                    freed[operation.name.lower()] = f"index or constraint of {label}"
        for app_label, app_operations in pre.items():
            for operation in app_operations:
                names: list[tuple[str, str]] = []
                if isinstance(operation, operations.CreateModel):
                    model_state = self.to_state.models[app_label, operation.name_lower]
                    if _has_own_table(model_state):
                        names.append(("table", _table_name(model_state)))
                    names += [("name", name) for name in _index_names(operation.options)]
                elif isinstance(operation, operations.AddIndex):
                    names.append(("name", str(operation.index.name)))
                elif isinstance(operation, operations.AddConstraint):
                    names.append(("name", str(operation.constraint.name)))
                for kind, name in names:
                    holder = freed.get(name.lower())
                    if holder is None:
                        continue
                    what = "table" if kind == "table" else "index or constraint"
                    raise PhasingError(
                        f"{app_label}: {operation.describe()} creates the {what} {name}, "
                        f"still the {holder} until post-deploy drops it: pre-deploy would "
                        f"fail to create it. Give the new {what} another name (db_table=... "
                        "or name=...), or make the removal in one release and the "
                        "addition in the next."
                    )

    def _join_stages(self, pre: Changes, post: Changes) -> Changes:
        """Return each app's pre-deploy migrations followed by its post-deploy ones.

        Both builds named their migrations auto_1, auto_2…: the post-deploy ones
        are renamed after the pre-deploy ones, and a post-deploy migration that
        waited on another app's pre-deploy work (built in the first pass, so
        Django fell back to that app's leaf) depends on that work itself.
        """
        renamed: dict[tuple[str, ...], MigrationKey] = {}
        for app_label, migrations in post.items():
            offset = len(pre.get(app_label, []))
            for number, migration in enumerate(migrations, start=offset + 1):
                new_name = f"auto_{number}"
                renamed[(app_label, migration.name)] = (app_label, new_name)
                migration.name = new_name
        post_names = {(app, m.name) for app, ms in post.items() for m in ms}
        for app_label, migrations in post.items():
            for migration in migrations:
                dependencies = []
                for dependency in migration.dependencies:
                    dependency = renamed.get(tuple(dependency), dependency)
                    other_app = dependency[0]
                    if (
                        other_app != app_label
                        and other_app in pre
                        and tuple(dependency) not in post_names
                    ):
                        dependency = (other_app, pre[other_app][-1].name)
                    dependencies.append(dependency)
                migration.dependencies = dependencies  # type: ignore[misc]
        joined: Changes = {}
        for app_label in sorted(set(pre) | set(post)):
            joined[app_label] = pre.get(app_label, []) + post.get(app_label, [])
        return joined

    # -- placing in the graph ----------------------------------------------

    def arrange_for_graph(
        self, changes: Changes, graph: MigrationGraph, migration_name: str | None = None
    ) -> Changes:
        """Name and chain the new migrations; keep pre-deploy ones off pending drops."""
        changes = super().arrange_for_graph(changes, graph, migration_name)
        stages: dict[MigrationKey, StageInfo] | None = None
        for app_label, migrations in changes.items():
            if not migrations or written_stage(migrations[0]) is None:
                continue  # --empty: not ours to place.
            if not migration_name:
                self._name_prep_migration(changes, app_label)
            if stages is None:
                stages = graph_stages(graph)
            self._place_beside_pending(changes, app_label, graph, stages)
        return changes

    def _name_prep_migration(self, changes: Changes, app_label: str) -> None:
        """Name a migration made only of prep steps after the drop it prepares."""
        migrations = changes[app_label]
        pre = [m for m in migrations if written_stage(m) is Stage.PRE_DEPLOY]
        post = [m for m in migrations if written_stage(m) is Stage.POST_DEPLOY]
        if len(pre) != 1 or not post:
            return
        prep_ids = {id(op) for op in self.prep_operations}
        if not pre[0].operations or not all(id(op) in prep_ids for op in pre[0].operations):
            return
        number = pre[0].name.split("_", 1)[0]
        drop_name = post[0].name.split("_", 1)[1]
        _rename(changes, app_label, pre[0], f"{number}_prepare_{drop_name}"[:100])

    def _place_beside_pending(
        self,
        changes: Changes,
        app_label: str,
        graph: MigrationGraph,
        stages: dict[MigrationKey, StageInfo],
    ) -> None:
        """Make new pre-deploy migrations depend on no post-deploy migration.

        A release may hold a post-deploy migration and, from a later pull
        request, a pre-deploy one that Django would chain after it; the
        pre-deploy stage could then not run. When the two commute, the new
        migration depends on the last pre-deploy migrations instead, and a
        post-deploy migration of the batch (or an empty one) joins the two
        branches, so the app keeps a single leaf.
        """
        # What the database makemigrations consults has applied is not
        # pending: only where it cannot tell is the user asked.
        applied = getattr(self.questioner, "applied_migrations", None)
        migrations = changes[app_label]
        for migration in migrations:
            if written_stage(migration) is not Stage.PRE_DEPLOY:
                continue
            for app, name in list(migration.dependencies):
                dependency = (app, name)
                info = stages.get(dependency)
                if info is None or info.stage is not Stage.POST_DEPLOY:
                    continue
                frontier, pending = _pending_tail(graph, dependency, stages, applied or frozenset())
                if not pending:
                    self._inform(
                        f"{app_label}.{migration.name} follows post-deploy migration "
                        f"{app}.{name}: the database has it applied."
                    )
                    continue
                pre_ops = [
                    op
                    for m in migrations
                    if written_stage(m) is Stage.PRE_DEPLOY
                    for op in m.operations
                ]
                conflicting = [
                    key
                    for key in pending
                    if rules.operations_conflict(pre_ops, app_label, _operations(graph, key), app)
                ]
                # A database with none of the app's migrations applied (a new
                # or never-migrated one) says nothing about where it is deployed.
                knows = applied is not None and any(key[0] == app for key in applied)
                if conflicting or not frontier:
                    names = ", ".join(f"{a}.{n}" for a, n in conflicting or pending)
                    if knows:
                        # The database says they have not run: one deploy
                        # could not apply both (pre-deploy would wait on them).
                        raise PhasingError(
                            f"{app_label}.{migration.name} changes what post-deploy "
                            f"migration(s) {names} change, and the database makemigrations "
                            "consults has not applied them: its pre-deploy steps would have "
                            "to wait for them, so no deploy could run both in one go. Deploy "
                            f"{names} through the post-deploy stage first, then run "
                            "makemigrations again; if they are deployed everywhere, apply "
                            "them to this database (manage.py migrate) so makemigrations "
                            "sees it."
                        )
                    self._inform(
                        f"{app_label}.{migration.name} must follow post-deploy "
                        f"migration(s) {names}, which change the same models or "
                        "fields: deploy it in a later release than them."
                    )
                    continue
                if (
                    not knows
                    and dependency[0] == app_label
                    and self._ask("ask_pending_deployed", app_label, dependency[1], default=False)
                ):
                    continue
                migration.dependencies = [  # type: ignore[misc]
                    *(dep for dep in migration.dependencies if tuple(dep) != dependency),
                    *frontier,
                ]
                if dependency[0] == app_label:
                    self._join_branches(changes, app_label, dependency)

    def _join_branches(self, changes: Changes, app_label: str, pending_leaf: MigrationKey) -> None:
        """Keep a single leaf: a post-deploy migration depends on the pending one."""
        migrations = changes[app_label]
        post = [m for m in migrations if written_stage(m) is Stage.POST_DEPLOY]
        if post:
            if pending_leaf not in post[0].dependencies:
                post[0].dependencies = [  # type: ignore[misc]
                    *post[0].dependencies,
                    pending_leaf,
                ]
            return
        last = migrations[-1]
        number = (self.parse_number(last.name) or 0) + 1
        merge = Migration(f"{number:04d}_post_deploy_merge", app_label)
        merge.dependencies = [(app_label, last.name), pending_leaf]  # type: ignore[misc]
        mark_stage(merge, Stage.POST_DEPLOY)
        migrations.append(merge)
        self._inform(
            f"{app_label}.{merge.name} joins {last.name} (pre-deploy) with "
            f"{pending_leaf[1]} (post-deploy), so one release can hold both."
        )


class GreenMigrationAutodetector(AutodetectorMixin, MigrationAutodetector):
    """Django's MigrationAutodetector with the deploy stages (see AutodetectorMixin)."""


# green_autodetector()'s classes, by base: one per base.
_COMPOSED: dict[type[MigrationAutodetector], type[AutodetectorMixin]] = {}


def green_autodetector(base: type[MigrationAutodetector]) -> type[AutodetectorMixin]:
    """Return base with AutodetectorMixin mixed in.

    One class per base, so that makemigrations and migrate built on the same
    base share their autodetector, as Django's check commands.E001 requires.
    A base that has the mixin already is returned as it is, and Django's own
    gives GreenMigrationAutodetector.
    """
    if not (isinstance(base, type) and issubclass(base, MigrationAutodetector)):
        raise TypeError(
            f"green_makemigrations adds its stages to a MigrationAutodetector subclass, "
            f"not to {base!r}: give the command an autodetector class."
        )
    if issubclass(base, AutodetectorMixin):
        return base
    if base is MigrationAutodetector:
        return GreenMigrationAutodetector
    if base in _COMPOSED:
        return _COMPOSED[base]
    composed: type[AutodetectorMixin] = type(
        f"Green{base.__name__}",
        (AutodetectorMixin, base),
        {
            "__module__": __name__,
            "__doc__": f"{base.__qualname__} with the deploy stages (see AutodetectorMixin).",
            "base_autodetector": base,
        },
    )
    return _COMPOSED.setdefault(base, composed)


class ComposedAutodetector:
    """A command mixin's ``autodetector``: its next base's, through green_autodetector().

    Looked up when it is read, so an autodetector that another app sets on
    Django's commands in its ready() (as django-pgtrigger does) is kept: the
    command's autodetector is that one with the stages mixed in. An instance
    may still set its own (makemigrations --stock does).
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner = owner
        self.name = name

    def __get__(self, instance: object, owner: type) -> type[AutodetectorMixin]:
        base = getattr(super(self.owner, owner), self.name, MigrationAutodetector)
        return green_autodetector(base)


def _pending_tail(
    graph: MigrationGraph,
    key: MigrationKey,
    stages: dict[MigrationKey, StageInfo],
    applied: frozenset[MigrationKey] = frozenset(),
) -> tuple[list[MigrationKey], list[MigrationKey]]:
    """Return the last pre-deploy migrations before key, and the post-deploy ones between.

    Walks back from key through post-deploy migrations of its app that are
    not applied; the migrations where the walk stops (pre-deploy or
    applied), minus those that are ancestors of others, are the frontier.
    """
    app_label = key[0]
    frontier: set[MigrationKey] = set()
    pending: list[MigrationKey] = []
    stack = [key]
    seen: set[MigrationKey] = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        info = stages.get(current)
        if info is not None and info.stage is Stage.POST_DEPLOY and current not in applied:
            pending.append(current)
            parents = graph.node_map[current].parents
            stack.extend(parent.key for parent in parents if parent.key[0] == app_label)
        else:
            frontier.add(current)
    maximal = [
        node
        for node in frontier
        if not any(node != other and node in graph.forwards_plan(other) for other in frontier)
    ]
    return sorted(maximal), pending


# Parts of touched_keys() that involve every field of their model.
_WHOLE_MODEL_PARTS = frozenset({rules.MODEL, rules.META, rules.VIEW})


def _transaction_chunks(
    migration_operations: Sequence[Operation], app_label: str
) -> list[tuple[list[Operation], bool]]:
    """Split operations into runs that run in a transaction and runs that cannot.

    Return (operations, outside_transaction) pairs in the order they apply.
    An operation that runs outside a transaction joins the next such run,
    after the atomic operations between them, unless one of those must
    follow it (see _must_follow()): then the migration is cut there.
    """
    chunks: list[tuple[list[Operation], bool]] = []
    atomic: list[Operation] = []
    outside: list[Operation] = []
    for operation in migration_operations:
        if green_operations.runs_outside_transaction(operation):
            outside.append(operation)
        elif outside and _must_follow(operation, outside, app_label):
            chunks += [(atomic, False), (outside, True)]
            atomic, outside = [operation], []
        else:
            atomic.append(operation)
    chunks += [(atomic, False), (outside, True)]
    return [(chunk, is_outside) for chunk, is_outside in chunks if chunk]


def _must_follow(operation: Operation, others: list[Operation], app_label: str) -> bool:
    """Return whether operation may not run before one of others.

    Field operations on different fields of a model commute, and a relation
    to a model commutes with changes to its fields that no relation can
    target (not unique); an index, constraint or view is taken to involve
    every field of its model, and an operation of unknown kind (RunSQL)
    everything.
    """
    keys = rules.touched_keys(operation, app_label)
    for other in others:
        other_keys = rules.touched_keys(other, app_label)
        if rules.WILDCARD in keys or rules.WILDCARD in other_keys:
            return True
        for app, model, part in keys:
            for other_app, other_model, other_part in other_keys:
                if (app, model) == (other_app, other_model) and _parts_conflict(
                    operation, part, other, other_part
                ):
                    return True
    return False


def _parts_conflict(operation: Operation, part: str, other: Operation, other_part: str) -> bool:
    """Return whether two operations touching parts of one model must keep their order."""
    if {part, other_part} & _WHOLE_MODEL_PARTS:
        return True
    if rules.REFERENCE in (part, other_part):
        if part == other_part:
            return False  # two relations to one model
        # A relation and a field of the model it targets: in order if the
        # field may be the relation's target (its primary key, or unique).
        field_operation = operation if other_part == rules.REFERENCE else other
        field = getattr(field_operation, "field", None)
        return field is None or bool(field.primary_key or field.unique)
    return part == other_part


def _operations(graph: MigrationGraph, key: MigrationKey) -> list[Operation]:
    migration = graph.nodes[key]
    return list(migration.operations) if migration is not None else []


def _rename(changes: Changes, app_label: str, migration: Migration, new_name: str) -> None:
    """Rename a new migration and every dependency on it."""
    old = (app_label, migration.name)
    migration.name = new_name
    for migrations in changes.values():
        for other in migrations:
            other.dependencies = [  # type: ignore[misc]
                (app_label, new_name) if tuple(dep) == old else dep for dep in other.dependencies
            ]


def _add_index_concurrently(operation: operations.AddIndex) -> Operation:
    return green_operations.AddIndexConcurrently(operation.model_name, operation.index)


def _remove_index_concurrently(operation: operations.RemoveIndex) -> Operation:
    return green_operations.RemoveIndexConcurrently(operation.model_name, operation.name)


def _column_name(field: Any, name: str) -> str | None:
    """Return the column a field of a model state has under name."""
    column_field = field.clone()
    column_field.set_attributes_from_name(name)
    return column_field.column  # type: ignore[no-any-return]


def _columns(model_state: Any) -> set[str]:
    """Return the columns of a model state's concrete fields."""
    return {
        str(column)
        for name, field in model_state.fields.items()
        if not field.many_to_many and (column := _column_name(field, name)) is not None
    }


def _retyped_column(old_state: Any, new_state: Any, name: str, final: Any) -> str:
    """Return the column of the replacement of field name, whose type changes.

    It is the field's final column if that is new (``db_column`` changes too);
    otherwise ``<column>_retyped``, fitted to every backend's limit and
    distinct from every column of the model before and after, so that the
    replacement never shares the column it replaces.
    """
    final_column = str(_column_name(final, name))
    old_columns = _columns(old_state)
    if final_column not in old_columns:
        return final_column
    return identifiers.fit_unique(final_column, "_retyped", old_columns | _columns(new_state))


def _with_db_column(field: Any, db_column: str | None) -> Any:
    """Return a copy of field with db_column set (or left out, if None)."""
    _name, _path, args, kwargs = field.deconstruct()
    kwargs.pop("db_column", None)
    if db_column is not None:
        kwargs["db_column"] = db_column
    return field.__class__(*args, **kwargs)


def _kept_through_columns_renamed(
    old_model: Any, new_model: Any
) -> list[tuple[str, str, str, str]]:
    """Return the columns a model rename renames in through tables that keep their name.

    Django's RenameModel renames the ``<model>_id`` column (``from_<model>_id``
    and ``to_<model>_id`` if self-referential) of the auto-created through
    table of each many-to-many field of the model and of each many-to-many
    field pointing at it. Where the table is renamed too, a view under its old
    name serves the old columns; where it keeps its name, nothing can. Each
    item is (table, old column, new column, field label).
    """
    fields = [(field, new_model) for field in old_model._meta.local_many_to_many]
    for related in old_model._meta.related_objects:
        if related.many_to_many and related.related_model is not old_model:
            owner = related.related_model._meta
            try:
                other = new_model._meta.apps.get_model(owner.app_label, owner.model_name)
            except LookupError:  # renamed or deleted too: not this rename's column
                continue
            fields.append((related.field, other))
    renamed: list[tuple[str, str, str, str]] = []
    for old_field, new_owner in fields:
        old_through = old_field.remote_field.through._meta
        if not old_through.auto_created:
            continue
        owner = old_field.model._meta
        try:
            new_field = new_owner._meta.get_field(old_field.name)
        except FieldDoesNotExist:
            continue
        if not new_field.many_to_many:
            continue
        new_through = new_field.remote_field.through._meta
        if not new_through.auto_created:
            continue
        if old_through.db_table != new_through.db_table and new_owner is new_model:
            # The model's own table, renamed with it: its view serves the old
            # columns. (Another model's table moved in the same run gets a
            # view of its own, which does not know this rename's column.)
            continue
        for old, new in zip(
            old_through.local_concrete_fields, new_through.local_concrete_fields, strict=True
        ):
            if old.column != new.column:
                label = f"{owner.label}.{old_field.name}"
                renamed.append((str(old_through.db_table), str(old.column), str(new.column), label))
    return renamed


def _target_key(field: Any, app_label: str, own: tuple[str, str]) -> tuple[str, str]:
    """Return the (app_label, model_name) a relation of a model state's field points at."""
    target = field.remote_field.model
    if not isinstance(target, str):
        return (target._meta.app_label, target._meta.model_name)
    if target == "self":
        return own
    label, _, name = target.rpartition(".")
    return (label or app_label, name.lower())


def _table_name(model_state: Any) -> str:
    """Return the table of a model state, before any truncation to the backend's limit."""
    return str(
        model_state.options.get("db_table") or f"{model_state.app_label}_{model_state.name_lower}"
    )


def _has_own_table(model_state: Any) -> bool:
    """Return whether a model state has a table of its own (not proxy nor unmanaged)."""
    return not model_state.options.get("proxy") and model_state.options.get("managed", True)


def _index_names(options: dict[str, Any]) -> list[str]:
    """Return the names of the indexes and constraints declared in a model's options."""
    return [
        str(item.name)
        for item in (*options.get("indexes", ()), *options.get("constraints", ()))
        if getattr(item, "name", None)
    ]


def _drops_db_default(old_field: Any, new_field: Any) -> bool:
    """Return whether an alteration takes a column's database default away."""
    return bool(
        old_field.db_default is not NOT_PROVIDED
        and new_field.db_default is NOT_PROVIDED
        and not new_field.many_to_many
    )


def _model_label(app_label: str, operation: Operation) -> str:
    """Return app_label.model of the model an operation changes, or app_label."""
    model = rules.operation_model_key(operation)
    return f"{app_label}.{model}" if model else app_label
