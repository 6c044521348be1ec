"""Pure decisions: the stage of an operation, the prep step of a removal.

Nothing here touches a database or the autodetector's internals, so each rule
is tested on its own.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.core import exceptions
from django.db import models
from django.db.migrations import operations
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.fields import NOT_PROVIDED
from django.db.models.functions import Now
from django.utils import timezone

from . import sqlscan, views
from .constants import Stage
from .expressions import RandomUUID
from .sync import SyncOperation
from .views import ViewOperation

# Operations that destroy data: the deferred (post-deploy) half of a removal.
DROP_OPERATIONS: tuple[type[Operation], ...] = (operations.RemoveField, operations.DeleteModel)

# Operations on a model that is being deleted go with the DeleteModel.
DELETED_MODEL_COMPANIONS: tuple[type[Operation], ...] = tuple(
    getattr(operations, name)
    for name in (
        "RemoveField",
        "AlterUniqueTogether",
        "AlterIndexTogether",  # only in historical migrations
        "AlterOrderWithRespectTo",
        "RemoveIndex",
        "RemoveConstraint",
    )
    if hasattr(operations, name)
)

# Literal defaults that every supported database stores as a column default.
LITERAL_DEFAULT_TYPES = (
    bool,
    int,
    float,
    decimal.Decimal,
    str,
    datetime.date,
    datetime.time,
    datetime.datetime,
    datetime.timedelta,
    uuid.UUID,
)

# Fields without a column of their own (Django 5.2+).
COLUMNLESS_FIELDS: tuple[type[Any], ...] = tuple(
    getattr(models, name) for name in ("CompositePrimaryKey",) if hasattr(models, name)
)

# Callable defaults the database computes itself.
NOW_CALLABLES = (timezone.now, datetime.datetime.now)

# Field types whose columns cannot carry a literal default on every backend.
# (A JSONField can: its database default is the JSON text, see _json_literal.)
NO_LITERAL_DEFAULT_FIELDS: tuple[type[models.Field[Any, Any]], ...] = (
    models.BinaryField,
    models.JSONField,
)

# Callable defaults whose every call returns the same value (list, dict…): the
# database can store that value as a literal default.
CONSTANT_CALLABLES: tuple[Any, ...] = (list, dict, tuple, str, int, float, bool, decimal.Decimal)

# Values a JSONField's database default may hold: the JSON text of a literal.
JSON_LITERAL_TYPES = (list, dict, tuple, str, int, float, bool)


def operation_model_key(operation: Operation) -> str | None:
    """Return the lowercased model name an operation works on, if any."""
    # Field and index operations name their model in model_name; model
    # operations in name.
    name = getattr(operation, "model_name_lower", None)
    if name is None:
        name = getattr(operation, "name_lower", None)
    return name


def database_operations(operation: Operation) -> list[Operation]:
    """Return the operations that operation runs in the database.

    A SeparateDatabaseAndState runs only its ``database_operations`` (nested
    ones unwrapped too); its ``state_operations`` change no table.
    """
    if isinstance(operation, operations.SeparateDatabaseAndState):
        return [
            inner for outer in operation.database_operations for inner in database_operations(outer)
        ]
    return [operation]


def _drops(
    operation: Operation,
    tableless_models: Collection[str],
    columnless_fields: Collection[tuple[str, str]],
) -> bool:
    if isinstance(operation, operations.DeleteModel):
        return operation.name_lower not in tableless_models
    if operation_model_key(operation) in tableless_models:
        return False  # Django runs no DDL for a proxy or unmanaged model
    if isinstance(operation, operations.AlterOrderWithRespectTo):
        return not operation.order_with_respect_to
    if isinstance(operation, operations.RemoveField):
        return (operation.model_name_lower, operation.name_lower) not in columnless_fields
    return False


def is_drop(
    operation: Operation,
    tableless_models: Collection[str] = (),
    columnless_fields: Collection[tuple[str, str]] = (),
) -> bool:
    """Return whether operation destroys data the previous release still uses.

    That is a RemoveField, a DeleteModel and removing ``order_with_respect_to``
    (which drops the ``_order`` column), run as they are or as the database
    operations of a SeparateDatabaseAndState; a removal in its state
    operations only drops nothing. Neither do operations on a model without
    a table of its own (proxy or unmanaged, named in tableless_models), nor
    removing a field without a column of its own (a many-to-many field with
    its own ``through`` model, a composite primary key: ``(model, field)``
    pairs in columnless_fields). Without these, which need the project
    state, a removal counts: the safe side for a stage.
    """
    return bool(drops_data([operation], tableless_models, columnless_fields))


def operation_stage(
    operation: Operation,
    app_label: str,
    deleted_models: Collection[tuple[str, str]],
    tableless_models: Collection[tuple[str, str]] = (),
) -> Stage:
    """Return the stage of a generated operation.

    Drops are post-deploy; so is anything done to a model whose table is
    dropped in the same run (it must go with the DeleteModel). Everything
    else is safe while the old release runs.
    """
    tableless = {model for app, model in tableless_models if app == app_label}
    if is_drop(operation, tableless):
        return Stage.POST_DEPLOY
    if isinstance(operation, DELETED_MODEL_COMPANIONS):
        model = operation_model_key(operation)
        if model and (app_label, model) in deleted_models:
            return Stage.POST_DEPLOY
    return Stage.PRE_DEPLOY


def infer_stage(migration_operations: Iterable[Operation]) -> Stage:
    """Return the stage of a migration that does not write one: drops are post-deploy."""
    if drops_data(migration_operations):
        return Stage.POST_DEPLOY
    return Stage.PRE_DEPLOY


def drops_data(
    migration_operations: Iterable[Operation],
    tableless_models: Collection[str] = (),
    columnless_fields: Collection[tuple[str, str]] = (),
) -> list[Operation]:
    """Return the operations that destroy data (see is_drop).

    A drop inside a SeparateDatabaseAndState is returned itself, so that a
    message can describe it.
    """
    return [
        inner
        for operation in migration_operations
        for inner in database_operations(operation)
        if _drops(inner, tableless_models, columnless_fields)
    ]


def columnless_fields(model_states: Iterable[Any]) -> set[tuple[str, str]]:
    """Return the (model, field) pairs of the fields without a column or table of their own.

    A many-to-many field with an explicit ``through`` model (its table
    belongs to that model), a composite primary key.
    """
    return {
        (model_state.name_lower, name.lower())
        for model_state in model_states
        for name, field in model_state.fields.items()
        if isinstance(field, COLUMNLESS_FIELDS)
        or (field.many_to_many and getattr(field.remote_field, "through", None))
    }


def destructive_sql(operation: Operation) -> list[sqlscan.Finding]:
    """Return the statements of a RunSQL's forward SQL that drop or rename.

    Raw SQL is not understood, only read: the statements found may be safe
    (a table only the new release uses), so they call for a warning, not a
    refusal. RunSQL inside a SeparateDatabaseAndState's database operations
    counts too.
    """
    return [
        finding
        for inner in database_operations(operation)
        if isinstance(inner, operations.RunSQL)
        for text in sqlscan.sql_texts(inner.sql)
        for finding in sqlscan.scan(text)
    ]


@dataclass(frozen=True)
class Rename:
    """A database name that a hand-written rename changes (``what`` is "table" or "column")."""

    operation: Operation
    what: str
    table: str
    old: str
    new: str

    def describe(self) -> str:
        """Return the change in words."""
        if self.what == "table":
            return f"table {self.old} becomes {self.new}"
        return f"column {self.old} of table {self.table} becomes {self.new}"


# Renames phased by green_makemigrations itself (a view keeps the old name).
PHASED_RENAMES: tuple[type[Operation], ...] = (
    views.RenameModelWithViews,
    views.AlterModelTableWithViews,
)


def database_renames(
    migration_operations: Iterable[Operation], app_label: str, state: ProjectState
) -> list[Rename]:
    """Return the tables and columns that operations rename in the database.

    state is the project state before the operations. A RenameField,
    RenameModel, AlterModelTable or AlterField changes a name the release
    that does not know it uses, unless the database name is kept
    (``db_column``, ``db_table``) or green_makemigrations phased it (a view
    under the old table name; a column rename becomes a new column kept in
    sync). A SeparateDatabaseAndState counts by its database operations.
    """
    state = state.clone()
    renames: list[Rename] = []
    for operation in migration_operations:
        if isinstance(operation, operations.SeparateDatabaseAndState):
            renames += database_renames(operation.database_operations, app_label, state)
        else:
            renames += _renames(operation, app_label, state)
        operation.state_forwards(app_label, state)
    return renames


def _renames(operation: Operation, app_label: str, state: ProjectState) -> list[Rename]:
    if isinstance(operation, PHASED_RENAMES):
        return []
    if isinstance(operation, (operations.RenameField, operations.AlterField)):
        model_state = state.models.get((app_label, operation.model_name_lower))
        if model_state is None or not _has_table(model_state):
            return []
        old_field = _field(model_state, getattr(operation, "old_name", operation.name))
        if old_field is None:
            return []
        if isinstance(operation, operations.RenameField):
            old = (old_field, operation.old_name)
            new = (old_field, operation.new_name)
        else:
            old, new = (old_field, operation.name), (operation.field, operation.name)
        return _field_renames(operation, _table(model_state), old, new)
    if isinstance(operation, (operations.RenameModel, operations.AlterModelTable)):
        model_state = state.models.get((app_label, operation_model_key(operation) or ""))
        if model_state is None or not _has_table(model_state):
            return []
        if isinstance(operation, operations.RenameModel):
            new_table = model_state.options.get("db_table") or (
                f"{app_label}_{operation.new_name_lower}"
            )
        else:
            new_table = operation.table or f"{app_label}_{operation.name_lower}"
        old_table = _table(model_state)
        renames: list[Rename] = []
        if old_table != new_table:
            renames.append(Rename(operation, "table", old_table, old_table, str(new_table)))
            for field_name, field in model_state.fields.items():
                if _auto_through(field) and not field.db_table:
                    through = f"{old_table}_{field_name}"
                    renames.append(
                        Rename(operation, "table", through, through, f"{new_table}_{field_name}")
                    )
        if isinstance(operation, operations.RenameModel):
            renames += _through_column_renames(operation, app_label, state)
        return renames
    return []


def _through_column_renames(
    operation: operations.RenameModel, app_label: str, state: ProjectState
) -> list[Rename]:
    """Return the columns named after a renamed model in many-to-many tables."""
    old, new = operation.old_name_lower, operation.new_name_lower
    renames: list[Rename] = []
    for (label, model_name), model_state in state.models.items():
        if not _has_table(model_state):
            continue
        for field_name, field in model_state.fields.items():
            if not _auto_through(field):
                continue
            this = (label, model_name)
            target = _model_key(field.remote_field.model, label) or this
            if target == this:
                continue  # self-referential: its columns are from_<model>_id and to_<model>_id
            if this != (app_label, old) and target != (app_label, old):
                continue  # neither the renamed model's field nor one pointing at it
            through = field.db_table or f"{_table(model_state)}_{field_name}"
            renames.append(Rename(operation, "column", through, f"{old}_id", f"{new}_id"))
    return renames


def _model_key(model: Any, app_label: str) -> tuple[str, str] | None:
    if not isinstance(model, str):
        return (model._meta.app_label, model._meta.model_name)
    if model == "self":
        return None
    label, _, name = model.rpartition(".")
    return (label or app_label, name.lower())


def _field_renames(
    operation: Operation,
    table: str,
    old: tuple[models.Field[Any, Any], str],
    new: tuple[models.Field[Any, Any], str],
) -> list[Rename]:
    (old_field, old_name), (new_field, new_name) = old, new
    if old_field.many_to_many or new_field.many_to_many:
        if not (_auto_through(old_field) and _auto_through(new_field)):
            return []
        old_table = old_field.db_table or f"{table}_{old_name}"  # type: ignore[attr-defined]
        new_table = new_field.db_table or f"{table}_{new_name}"  # type: ignore[attr-defined]
        if old_table == new_table:
            return []
        return [Rename(operation, "table", old_table, old_table, new_table)]
    old_column, new_column = _column(old_field, old_name), _column(new_field, new_name)
    if old_column is None or new_column is None or old_column == new_column:
        return []
    return [Rename(operation, "column", table, old_column, new_column)]


def _has_table(model_state: Any) -> bool:
    options = model_state.options
    return not options.get("proxy") and options.get("managed", True)


def _table(model_state: Any) -> str:
    return str(
        model_state.options.get("db_table") or f"{model_state.app_label}_{model_state.name_lower}"
    )


def _field(model_state: Any, name: str) -> models.Field[Any, Any] | None:
    fields: dict[str, models.Field[Any, Any]] = model_state.fields
    if name in fields:
        return fields[name]
    return next((f for n, f in fields.items() if n.lower() == name.lower()), None)


def _auto_through(field: models.Field[Any, Any]) -> bool:
    return bool(field.many_to_many and not getattr(field.remote_field, "through", None))


def _column(field: models.Field[Any, Any], name: str) -> str | None:
    if isinstance(field, COLUMNLESS_FIELDS):
        return None
    column_field = field.clone()
    column_field.set_attributes_from_name(name)
    return column_field.column


@dataclass(frozen=True)
class RemovalPrep:
    """How a column is prepared, in pre-deploy, for its drop in post-deploy.

    ``field`` is the field as it must be while both releases run (``None`` when
    nothing is needed); ``description`` says what was done and why; a
    ``fallback`` prep made the column nullable because no database default was
    possible, which the user is told about.
    """

    field: models.Field[Any, Any] | None
    description: str
    fallback: bool = False


def rebuild_field(field: models.Field[Any, Any], **changes: Any) -> models.Field[Any, Any]:
    """Return a copy of field with some constructor arguments changed."""
    _name, _path, args, kwargs = field.deconstruct()
    kwargs.update(changes)
    return field.__class__(*args, **kwargs)


def database_default_for(field: models.Field[Any, Any]) -> Any:
    """Return a ``db_default`` equivalent to the field's Python default, or NOT_PROVIDED."""
    is_datetime = isinstance(field, models.DateTimeField)
    if is_datetime and (getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)):
        return Now()
    if not field.has_default():
        return NOT_PROVIDED
    default = field.default
    constant = False
    if callable(default):
        if is_datetime and default in NOW_CALLABLES:
            return Now()
        if isinstance(field, models.UUIDField) and default is uuid.uuid4:
            return RandomUUID()
        if not any(default is kind for kind in CONSTANT_CALLABLES):
            return NOT_PROVIDED
        default, constant = default(), True
    if isinstance(field, models.JSONField):
        return default if _json_literal(field, default) else NOT_PROVIDED
    if isinstance(field, NO_LITERAL_DEFAULT_FIELDS):
        return NOT_PROVIDED
    if isinstance(default, enum.Enum):
        default = default.value
    if default is None or not isinstance(default, LITERAL_DEFAULT_TYPES):
        return NOT_PROVIDED
    if constant and not _stores(field, default):
        return NOT_PROVIDED  # e.g. default=int on a CharField: "0" is not 0
    return default


def _json_literal(field: models.JSONField[Any], value: Any) -> bool:
    """Return whether value is a JSON literal the field's encoder writes (not None: SQL NULL)."""
    if value is None or not isinstance(value, JSON_LITERAL_TYPES):
        return False
    try:
        json.dumps(value, cls=field.encoder)
    except (TypeError, ValueError):
        return False
    return True


def _stores(field: models.Field[Any, Any], value: Any) -> bool:
    """Return whether field reads value back as itself."""
    try:
        return bool(field.to_python(value) == value)
    except exceptions.ValidationError:
        return False


def unique_reason(
    field: models.Field[Any, Any], name: str, model_options: dict[str, Any]
) -> str | None:
    """Say how field (called name) is unique, or return None if it is not.

    By itself (``unique=True``, a OneToOneField), in ``Meta.unique_together``
    or in a UniqueConstraint (with a condition or not: which rows it covers
    is not known here). A primary key does not count: it is never added or
    removed as a column of an existing table.
    """
    if field.primary_key:
        return None
    if field.unique:
        return "unique=True"
    for together in model_options.get("unique_together", ()):
        if name in together:
            return f"in Meta.unique_together {tuple(together)!r}"
    for constraint in model_options.get("constraints", ()):
        if not isinstance(constraint, models.UniqueConstraint):
            continue
        named = set(constraint.fields) | {
            str(getattr(ref, "name", ""))
            for expression in constraint.expressions
            for ref in _flatten(expression)
            if isinstance(ref, models.F)
        }
        if name in named:
            return f"in UniqueConstraint {constraint.name!r}"
    return None


def _flatten(expression: Any) -> Iterable[Any]:
    """Yield expression and every expression inside it."""
    yield expression
    for source in getattr(expression, "get_source_expressions", list)():
        if source is not None:
            yield from _flatten(source)


def _per_row(db_default: Any) -> bool:
    """Return whether a database default gives each row its own value (unique-safe)."""
    return isinstance(db_default, RandomUUID)


def removal_prep(field: models.Field[Any, Any], unique: str | None = None) -> RemovalPrep:
    """Return the pre-deploy step that lets the new release write rows without field.

    The new release's inserts omit the column, so it must accept that: keep
    NOT NULL and add a database default where one expresses the field's
    default (the old release then never reads NULL), else make it nullable,
    keeping its type. Nullable columns, many-to-many fields, generated
    columns and columns that already have a database default need nothing.
    A unique column (unique says how, see unique_reason) gets no constant
    database default: the new release's second insert would collide with
    its first; it is made nullable (NULLs do not collide) unless its default
    is computed per row.
    """
    if field.many_to_many:
        return RemovalPrep(None, "many-to-many: no column in the model's table")
    if isinstance(field, COLUMNLESS_FIELDS):
        return RemovalPrep(None, "composite primary key: no column of its own")
    if isinstance(field, models.GeneratedField):
        return RemovalPrep(None, "generated column: the database computes it")
    if field.null:
        return RemovalPrep(None, "nullable: inserts without it store NULL")
    if field.db_default is not NOT_PROVIDED:
        return RemovalPrep(None, "already has a database default")
    db_default = database_default_for(field)
    if db_default is not NOT_PROVIDED and unique and not _per_row(db_default):
        reason = (
            f"it is unique ({unique}): a constant database default would make the new "
            "release's second insert collide with its first, so the column is made "
            "nullable until the drop"
        )
        return RemovalPrep(rebuild_field(field, null=True), reason, fallback=True)
    if db_default is not NOT_PROVIDED:
        return RemovalPrep(
            rebuild_field(field, db_default=db_default),
            f"database default {db_default!r} added, NOT NULL kept",
        )
    if field.has_default():
        reason = (
            f"its default {field.default!r} cannot be computed by the database, "
            "so the column is made nullable until the drop"
        )
    else:
        reason = "it has no default, so the column is made nullable until the drop"
    return RemovalPrep(rebuild_field(field, null=True), reason, fallback=True)


@dataclass(frozen=True)
class AdditionPrep:
    """How a new NOT NULL column is added while the old release still inserts.

    The old release's inserts omit the column, so it gets a database default
    in pre-deploy (``field``); post-deploy drops that default again when the
    model does not declare it. ``field`` is None when the database cannot
    compute the field's default: ``description`` says why.
    """

    field: models.Field[Any, Any] | None
    description: str
    unique: bool = False


def addition_prep(field: models.Field[Any, Any], unique: str | None = None) -> AdditionPrep | None:
    """Return the pre-deploy form of an added field, or None if it needs none.

    Nullable columns, columns with a database default, many-to-many fields,
    generated columns and primary keys need nothing: the old release's
    inserts work (or the table is new to both releases). A unique column
    (unique says how, see unique_reason) cannot take a constant database
    default: every existing row would get the same value (the step fails on
    a table of two rows) and so would every insert of the old release. Only
    a default computed per row (``uuid.uuid4``) is allowed; otherwise the
    prep has no field and ``unique`` is set.
    """
    if field.many_to_many or field.primary_key:
        return None
    if isinstance(field, (models.GeneratedField, *COLUMNLESS_FIELDS)):
        return None
    if field.db_default is not NOT_PROVIDED:
        if unique and not _per_row(field.db_default):
            # The model's own db_default: nullable or not, the running
            # release's inserts (and the existing rows) all take it.
            return AdditionPrep(
                None,
                f"it is unique ({unique}), and its database default {field.db_default!r} "
                "would give every existing row and every insert of the running release "
                "the same value",
                unique=True,
            )
        return None
    if field.null:
        return None
    db_default = database_default_for(field)
    if db_default is NOT_PROVIDED and not field.has_default():
        if (
            field.blank
            and field.empty_strings_allowed
            and not isinstance(field, NO_LITERAL_DEFAULT_FIELDS)
        ):
            db_default = ""  # what Django fills existing rows with
    if db_default is NOT_PROVIDED:
        default = field.default if field.has_default() else None
        if default is not None:
            reason = f"its default {default!r} cannot be computed by the database"
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            reason = (
                f"auto_now/auto_now_add on a {type(field).__name__} has no database "
                "equivalent on every backend (only DateTimeField gets Now())"
            )
        else:
            reason = "it has no default"
        return AdditionPrep(None, reason)
    if unique and not _per_row(db_default):
        return AdditionPrep(
            None,
            f"it is unique ({unique}), and its database default {db_default!r} would give "
            "every existing row and every insert of the running release the same value",
            unique=True,
        )
    return AdditionPrep(
        rebuild_field(field, db_default=db_default),
        f"database default {db_default!r} until post-deploy",
    )


@dataclass(frozen=True)
class RenamePrep:
    """The fields of a phased column rename while both releases run.

    ``old_field`` is the old column made nullable (None if it already is), so
    that the new release's inserts, which omit it, work before the sync
    trigger fills it; ``new_field`` is the new column as added in pre-deploy:
    nullable and without any default, so that the rows of the old release
    arrive NULL and the trigger and the backfill copy the old value into it.
    ``refusal`` says why the rename cannot be phased (then both are None).
    """

    old_field: models.Field[Any, Any] | None
    new_field: models.Field[Any, Any] | None
    refusal: str | None = None


# Constructor arguments that would make Django fill existing rows of an added
# column: the phased rename copies the old column's values instead.
FILLING_ARGUMENTS = ("default", "db_default", "auto_now", "auto_now_add")


def rename_prep(old_field: models.Field[Any, Any], new_field: models.Field[Any, Any]) -> RenamePrep:
    """Return the pre-deploy fields of a rename that changes a (non-many-to-many) field's column."""
    if old_field.primary_key or new_field.primary_key:
        return RenamePrep(None, None, "it is the primary key, which other tables point at")
    if isinstance(new_field, models.GeneratedField):
        return RenamePrep(None, None, "generated columns cannot be written by a trigger")
    _name, _path, args, kwargs = new_field.deconstruct()
    for argument in FILLING_ARGUMENTS:
        kwargs.pop(argument, None)
    kwargs["null"] = True
    added = new_field.__class__(*args, **kwargs)
    kept = None if old_field.null else rebuild_field(old_field, null=True)
    return RenamePrep(kept, added)


class Retype(enum.Enum):
    """What a change of a column's type needs while both releases run."""

    NONE = "same type"
    IN_PLACE = "in place"  # both releases live with it, no table rewrite on PostgreSQL
    EXPAND = "expand/contract"  # compatible, but the database rewrites the table
    REFUSE = "refused"


@dataclass(frozen=True)
class TypeChange:
    """How a type change is phased, and why (the reason is shown to the user)."""

    kind: Retype
    reason: str = ""


# Integer types, narrowest first; a change to a wider one keeps every value.
INTEGER_WIDTHS = {
    "SmallAutoField": 2,
    "AutoField": 4,
    "BigAutoField": 8,
    "SmallIntegerField": 2,
    "PositiveSmallIntegerField": 2,
    "IntegerField": 4,
    "PositiveIntegerField": 4,
    "BigIntegerField": 8,
    "PositiveBigIntegerField": 8,
}
TEXT_TYPES = ("CharField", "TextField")
# Internal types stored as another one's column type.
SAME_COLUMN_TYPE = {"SlugField": "CharField"}


def type_change(old_field: models.Field[Any, Any], new_field: models.Field[Any, Any]) -> TypeChange:
    """Return how a change from old_field's column type to new_field's is phased.

    Both releases must read and write the column during the deploy, so only
    widening changes are allowed: a longer varchar, varchar to text or more
    digits of a decimal run as they are (PostgreSQL changes the type without
    rewriting the table); an integer widened to a bigger integer type, or a
    decimal's scale grown, rewrites the table and gets an expand/contract; a
    narrowing or a change between kinds of values is refused.
    """
    if old_field.is_relation or new_field.is_relation:
        return TypeChange(Retype.NONE)  # the target's type; constraints are another matter
    old_type, new_type = (
        SAME_COLUMN_TYPE.get(field.get_internal_type(), field.get_internal_type())
        for field in (old_field, new_field)
    )
    if old_type in TEXT_TYPES and new_type in TEXT_TYPES:
        old_length = getattr(old_field, "max_length", None) if old_type == "CharField" else None
        new_length = getattr(new_field, "max_length", None) if new_type == "CharField" else None
        if old_length == new_length and old_type == new_type:
            return TypeChange(Retype.NONE)
        if new_length is None or (old_length is not None and new_length >= old_length):
            return TypeChange(Retype.IN_PLACE, "a wider text column")
        return TypeChange(
            Retype.REFUSE,
            f"max_length {old_length or 'unlimited'} -> {new_length} is narrower: the running "
            "release may write values that no longer fit",
        )
    if old_type == new_type == "DecimalField":
        old_digits, new_digits = old_field.max_digits, new_field.max_digits  # type: ignore[attr-defined]
        old_places, new_places = old_field.decimal_places, new_field.decimal_places  # type: ignore[attr-defined]
        if (old_digits, old_places) == (new_digits, new_places):
            return TypeChange(Retype.NONE)
        if new_places < old_places or new_digits - new_places < old_digits - old_places:
            return TypeChange(
                Retype.REFUSE,
                f"decimal({old_digits}, {old_places}) -> decimal({new_digits}, {new_places}) "
                "holds fewer digits: existing or running-release values may not fit",
            )
        if new_places == old_places:
            return TypeChange(Retype.IN_PLACE, "more digits, same scale")
        return TypeChange(Retype.EXPAND, "a larger scale rewrites the table")
    if old_type == new_type:
        return TypeChange(Retype.NONE)
    if old_type in INTEGER_WIDTHS and new_type in INTEGER_WIDTHS:
        if INTEGER_WIDTHS[new_type] < INTEGER_WIDTHS[old_type]:
            return TypeChange(
                Retype.REFUSE,
                f"{old_type} -> {new_type} is narrower: existing or running-release values "
                "may not fit",
            )
        if INTEGER_WIDTHS[new_type] == INTEGER_WIDTHS[old_type]:
            # Only the check of positive integer types changes.
            return TypeChange(Retype.IN_PLACE, "same width")
        return TypeChange(Retype.EXPAND, f"{old_type} -> {new_type} rewrites the table")
    return TypeChange(
        Retype.REFUSE,
        f"{old_type} -> {new_type} changes the kind of value: the release that does not "
        "know the change would read values of the other type",
    )


def retype_blockers(
    old_field: models.Field[Any, Any], model_options: dict[str, Any], name: str
) -> str | None:
    """Return why a field cannot be replaced by a retyped column, or None if it can.

    The replacement is a new column renamed over the old one: keys, relations
    and indexes or constraints declared on the model (which name the column)
    would be dropped with the old column.
    """
    if old_field.primary_key:
        return "it is the primary key, which other tables point at"
    if old_field.is_relation:
        return "it is a relation"
    for option in ("indexes", "constraints"):
        for item in model_options.get(option, []):
            fields = [*getattr(item, "fields", ()), *getattr(item, "include", ())]
            if (
                name in fields
                or getattr(item, "expressions", None)
                or getattr(item, "condition", None)
            ):
                return f"Meta.{option} has {item.name}, which uses it"
    for option in ("unique_together", "index_together"):
        if any(name in together for together in model_options.get(option, ())):
            return f"Meta.{option} uses it"
    return None


# ---------------------------------------------------------------------------
# What an operation touches, to tell whether two operations commute.
#
# A key is (app_label, model, part). part is a field name, or one of:
MODEL = "__model__"  # the model itself: created, deleted, renamed, moved
META = "__meta__"  # indexes, constraints, options of the model
REFERENCE = "__ref__"  # a relation points at the model
VIEW = "__view__"  # a view under the model's old table name
WILDCARD = ("*", "*", MODEL)

Key = tuple[str, str, str]

FIELD_OPERATIONS: tuple[type[Operation], ...] = (
    operations.AddField,
    operations.RemoveField,
    operations.AlterField,
    operations.RenameField,
)
MODEL_OPERATIONS: tuple[type[Operation], ...] = (
    operations.CreateModel,
    operations.DeleteModel,
    operations.RenameModel,
    operations.AlterModelTable,
)


def touched_keys(operation: Operation, app_label: str) -> set[Key]:
    """Return the keys of what an operation reads or writes.

    Operations of unknown kind (RunSQL, RunPython, third-party ones) touch
    everything.
    """
    keys: set[Key] = set()
    if isinstance(operation, operations.SeparateDatabaseAndState):
        # What its operations touch (a state-only model rename: that model).
        inner = [*operation.state_operations, *operation.database_operations]
        return set().union(*(touched_keys(op, app_label) for op in inner))
    if isinstance(operation, ViewOperation):
        # A view under a renamed table's old name: nothing the new models use.
        return {(app_label, operation.model_name_lower, VIEW)}
    if isinstance(operation, SyncOperation):
        model_key = operation.model_name_lower
        return {
            (app_label, model_key, operation.old_name.lower()),
            (app_label, model_key, operation.new_name.lower()),
        }
    if isinstance(operation, FIELD_OPERATIONS):
        model: str = getattr(operation, "model_name_lower")  # noqa: B009 - one of four classes
        keys.add((app_label, model, getattr(operation, "name_lower")))  # noqa: B009
        if isinstance(operation, operations.RenameField):
            keys.add((app_label, model, operation.new_name_lower))
        field = getattr(operation, "field", None)
        if field is not None and field.remote_field is not None:
            keys.update(_related_model_keys(field, app_label))
        return keys
    if isinstance(operation, MODEL_OPERATIONS):
        keys.add((app_label, getattr(operation, "name_lower"), MODEL))  # noqa: B009
        if isinstance(operation, operations.RenameModel):
            keys.add((app_label, operation.new_name_lower, MODEL))
        for _name, field in getattr(operation, "fields", []):
            if field.remote_field is not None:
                keys.update(_related_model_keys(field, app_label))
        return keys
    model_name = operation_model_key(operation)
    if model_name is not None and not isinstance(
        operation, (operations.RunSQL, operations.RunPython)
    ):
        return {(app_label, model_name, META)}
    return {WILDCARD}


def _related_model_keys(field: models.Field[Any, Any], app_label: str) -> set[Key]:
    keys: set[Key] = set()
    remote = field.remote_field
    for target in (remote.model, getattr(remote, "through", None)):  # type: ignore[union-attr]
        if target is None:
            continue
        if isinstance(target, str):
            if target == "self":
                continue
            label, _, name = target.rpartition(".")
            keys.add((label or app_label, name.lower(), REFERENCE))
        else:
            keys.add((target._meta.app_label, str(target._meta.model_name), REFERENCE))
    return keys


def _parts_conflict(first: str, second: str) -> bool:
    if MODEL in (first, second):
        return True
    if REFERENCE in (first, second):
        return False
    return first == second


def keys_conflict(first: set[Key], second: set[Key]) -> bool:
    """Return whether operations with these keys may not run in either order."""
    if (WILDCARD in first and second) or (WILDCARD in second and first):
        return True
    return any(
        app_a == app_b and model_a == model_b and _parts_conflict(part_a, part_b)
        for app_a, model_a, part_a in first
        for app_b, model_b, part_b in second
    )


def operations_conflict(
    first: Iterable[Operation], first_app: str, second: Iterable[Operation], second_app: str
) -> bool:
    """Return whether any operation of first may not commute with one of second."""
    first_keys: set[Key] = set().union(*(touched_keys(op, first_app) for op in first))
    second_keys: set[Key] = set().union(*(touched_keys(op, second_app) for op in second))
    return keys_conflict(first_keys, second_keys)
