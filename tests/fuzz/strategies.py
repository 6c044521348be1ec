"""Random small apps and random changes to them (hypothesis strategies).

An app is a plain value (``AppSpec``: models of fields, indexes and
constraints) that renders as the source of a models.py. A change is a
function of an app that returns the changed app; a scenario is an initial
app and one or more authoring runs (each a list of changes) deployed
together. Every model and field carries a ``uid`` that survives renames, so
the harness knows which column of the old release is which of the new one,
and which renames the questioner should confirm.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

APP_LABEL = "fz"

SCALAR_KINDS = (
    "int",
    "bigint",
    "char",
    "text",
    "bool",
    "date",
    "datetime",
    "decimal",
    "uuid",
    "json",
)
RELATION_KINDS = ("fk", "o2o", "m2m")
# Kinds a database can index, make unique or check without a prefix length
# (MariaDB cannot index TEXT/JSON as Django declares them). Not bool: two
# rows of a unique boolean would collide on the releases' writes.
INDEXABLE_KINDS = ("int", "bigint", "char", "date", "datetime", "decimal", "uuid")

# Literal defaults (Python source) by kind, and the callables.
LITERAL_DEFAULTS: dict[str, tuple[str, ...]] = {
    "int": ("0", "7"),
    "bigint": ("0",),
    "char": ("''", "'x'"),
    "text": ("''",),
    "bool": ("False", "True"),
    "date": ("datetime.date(2020, 1, 1)",),
    "decimal": ("Decimal('1.50')",),
}
CALLABLE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "datetime": ("timezone.now",),
    "uuid": ("uuid.uuid4",),
    "json": ("list", "dict"),
    "date": ("datetime.date.today",),
}
DB_DEFAULTS: dict[str, tuple[str, ...]] = {
    "int": ("5",),
    "bigint": ("5",),
    "char": ("'d'",),
    "bool": ("True",),
    "datetime": ("Now()",),
    "decimal": ("Decimal('2.50')",),
}
# Defaults the database can compute when the tool needs one for the old
# release (README, "How each change is phased": literals and Now()).
COMPUTABLE_CALLABLES = {"timezone.now"}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a model."""

    uid: int
    name: str
    kind: str
    null: bool = False
    blank: bool = False
    default: str | None = None
    db_default: str | None = None
    db_column: str | None = None
    db_index: bool = False
    unique: bool = False
    max_length: int = 20
    max_digits: int = 8
    decimal_places: int = 2
    to: int | None = None  # uid of the target model of a relation

    @property
    def concrete(self) -> bool:
        """Return whether the field has a column of its model's table."""
        return self.kind != "m2m"

    @property
    def relation(self) -> bool:
        """Return whether the field points at a model."""
        return self.kind in RELATION_KINDS

    def column(self) -> str:
        """Return the name of the field's column."""
        return self.db_column or (f"{self.name}_id" if self.kind in ("fk", "o2o") else self.name)

    def computable_default(self) -> bool:
        """Return whether the database can hold this field's default."""
        if self.db_default is not None:
            return True
        if self.default is None:
            return False
        if self.default in COMPUTABLE_CALLABLES:
            return True
        return self.default in LITERAL_DEFAULTS.get(self.kind, ())

    def render(self, app: AppSpec) -> str:
        """Return the Python source of the field."""
        kwargs: list[str] = []
        if self.kind == "char":
            kwargs.append(f"max_length={self.max_length}")
        if self.kind == "decimal":
            kwargs.append(f"max_digits={self.max_digits}")
            kwargs.append(f"decimal_places={self.decimal_places}")
        if self.null and self.kind != "m2m":
            kwargs.append("null=True")
        if self.blank:
            kwargs.append("blank=True")
        if self.default is not None:
            kwargs.append(f"default={self.default}")
        if self.db_default is not None:
            kwargs.append(f"db_default={self.db_default}")
        if self.db_column is not None:
            kwargs.append(f"db_column={self.db_column!r}")
        if self.db_index:
            kwargs.append("db_index=True")
        if self.unique:
            kwargs.append("unique=True")
        classes = {
            "int": "IntegerField",
            "bigint": "BigIntegerField",
            "char": "CharField",
            "text": "TextField",
            "bool": "BooleanField",
            "date": "DateField",
            "datetime": "DateTimeField",
            "decimal": "DecimalField",
            "uuid": "UUIDField",
            "json": "JSONField",
            "fk": "ForeignKey",
            "o2o": "OneToOneField",
            "m2m": "ManyToManyField",
        }
        args: list[str] = []
        if self.relation:
            assert self.to is not None
            args.append(repr(app.model(self.to).name))
            if self.kind != "m2m":
                args.append("on_delete=models.CASCADE")
            args.append(f"related_name='r{self.uid}+'")
        return f"models.{classes[self.kind]}({', '.join(args + kwargs)})"


@dataclass(frozen=True)
class ModelSpec:
    """One model: its fields and options."""

    uid: int
    name: str
    rank: int  # a NOT NULL relation points only at a lower rank (rows can be inserted in order)
    fields: tuple[FieldSpec, ...] = ()
    db_table: str | None = None
    indexes: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (name, field uids)
    unique_constraints: tuple[tuple[str, tuple[int, ...]], ...] = ()
    check_constraints: tuple[tuple[str, int], ...] = ()  # (name, uid of an integer field) >= 0
    unique_together: tuple[tuple[int, ...], ...] = ()

    def field(self, uid: int) -> FieldSpec:
        """Return the field of uid."""
        return next(f for f in self.fields if f.uid == uid)

    def table(self) -> str:
        """Return the name of the model's table."""
        return self.db_table or f"{APP_LABEL}_{self.name.lower()}"

    def named_fields(self) -> set[str]:
        """Return the uids of the fields an index or constraint names."""
        uids = {uid for _, uids in self.indexes for uid in uids}
        uids |= {uid for _, uids in self.unique_constraints for uid in uids}
        uids |= {uid for _, uid in self.check_constraints}
        uids |= {uid for uids in self.unique_together for uid in uids}
        return {self.field(uid).name for uid in uids}

    def render(self, app: AppSpec) -> str:
        """Return the Python source of the model."""
        lines = [f"class {self.name}(models.Model):"]
        lines += [f"    {f.name} = {f.render(app)}" for f in self.fields]
        meta: list[str] = []
        if self.db_table:
            meta.append(f"        db_table = {self.db_table!r}")
        if self.indexes:
            items = ", ".join(
                f"models.Index(fields={[self.field(u).name for u in uids]!r}, name={name!r})"
                for name, uids in self.indexes
            )
            meta.append(f"        indexes = [{items}]")
        constraints = [
            f"models.UniqueConstraint(fields={[self.field(u).name for u in uids]!r}, name={name!r})"
            for name, uids in self.unique_constraints
        ] + [
            f"models.CheckConstraint(condition=models.Q({self.field(uid).name}__gte=0), "
            f"name={name!r})"
            for name, uid in self.check_constraints
        ]
        if constraints:
            meta.append(f"        constraints = [{', '.join(constraints)}]")
        if self.unique_together:
            items = ", ".join(
                repr(tuple(self.field(u).name for u in uids)) for uids in self.unique_together
            )
            meta.append(f"        unique_together = [{items}]")
        if meta:
            lines += ["", "    class Meta:", *meta]
        return "\n".join(lines)


@dataclass(frozen=True)
class AppSpec:
    """The models of the app at one release."""

    models: tuple[ModelSpec, ...] = ()
    next_id: int = 1

    def model(self, uid: int) -> ModelSpec:
        """Return the model of uid."""
        return next(m for m in self.models if m.uid == uid)

    def has_model(self, uid: int) -> bool:
        """Return whether the app has the model of uid."""
        return any(m.uid == uid for m in self.models)

    def new_id(self) -> tuple[int, AppSpec]:
        """Return a fresh id and the app that has used it."""
        return self.next_id, replace(self, next_id=self.next_id + 1)

    def with_model(self, model: ModelSpec) -> AppSpec:
        """Return the app with model replaced (by uid) or added."""
        if self.has_model(model.uid):
            models = tuple(model if m.uid == model.uid else m for m in self.models)
        else:
            models = (*self.models, model)
        return replace(self, models=models)

    def render(self) -> str:
        """Return the source of the app's models.py."""
        header = (
            "import datetime\nimport uuid\nfrom decimal import Decimal\n\n"
            "from django.db import models\nfrom django.db.models.functions import Now\n"
            "from django.utils import timezone\n"
        )
        return header + "".join(f"\n\n{m.render(self)}\n" for m in self.models)


@dataclass(frozen=True)
class Renames:
    """The renames the questioner confirms: (model, old, new) names, lower case."""

    fields: frozenset[tuple[str, str, str]] = frozenset()
    models: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Run:
    """One makemigrations run: the app it sees and the renames it confirms."""

    app: AppSpec
    changes: tuple[str, ...]
    renames: Renames = field(default_factory=Renames)


@dataclass(frozen=True)
class Scenario:
    """A deployed app and the runs authored before the next deploy."""

    initial: AppSpec
    runs: tuple[Run, ...]

    @property
    def final(self) -> AppSpec:
        """Return the app of the new release."""
        return self.runs[-1].app

    def describe(self) -> str:
        """Return the scenario as the models' code and the runs."""
        parts = ["# release N (deployed)", self.initial.render()]
        for number, run in enumerate(self.runs, start=1):
            parts.append(
                f"# makemigrations run {number}: {'; '.join(run.changes)}\n"
                f"# renames confirmed: fields {sorted(run.renames.fields)}, "
                f"models {sorted(run.renames.models)}"
            )
            parts.append(run.app.render())
        return "\n".join(parts)


# Strategies -----------------------------------------------------------------


def _field_options(draw: st.DrawFn, kind: str, adding: bool) -> dict[str, object]:
    """Draw null/blank/default/db_default for a new field of kind.

    ``adding`` (to an existing table): the field must be one Django adds
    without asking (nullable, a default, a db_default, blank text).
    """
    options: dict[str, object] = {}
    if kind == "char":
        options["max_length"] = draw(st.sampled_from((10, 20, 30)))
    if kind == "m2m":
        return options
    choices = ["null", "none"]
    if LITERAL_DEFAULTS.get(kind):
        choices.append("literal")
    if CALLABLE_DEFAULTS.get(kind):
        choices.append("callable")
    if DB_DEFAULTS.get(kind):
        choices.append("db_default")
    if kind in ("char", "text"):
        choices.append("blank")
    if kind in ("fk", "o2o"):
        choices = ["null", "none"]
    if adding:
        choices.remove("none")
    how = draw(st.sampled_from(choices))
    if how == "null":
        options["null"] = True
    elif how == "literal":
        options["default"] = draw(st.sampled_from(LITERAL_DEFAULTS[kind]))
    elif how == "callable":
        options["default"] = draw(st.sampled_from(CALLABLE_DEFAULTS[kind]))
    elif how == "db_default":
        options["db_default"] = draw(st.sampled_from(DB_DEFAULTS[kind]))
    elif how == "blank":
        options["blank"] = True
    return options


def _new_field(
    draw: st.DrawFn, app: AppSpec, model: ModelSpec | None, rank: int, adding: bool
) -> tuple[FieldSpec, AppSpec]:
    """Draw a new field for a model (of rank), with a fresh uid and name."""
    uid, app = app.new_id()
    kinds = list(SCALAR_KINDS)
    targets = list(app.models)
    if targets:
        kinds += list(RELATION_KINDS)
    kind = draw(st.sampled_from(kinds))
    options = _field_options(draw, kind, adding)
    to = None
    if kind in RELATION_KINDS:
        if kind != "m2m" and not options.get("null"):
            targets = [m for m in targets if m.rank < rank]
            if not targets:
                options["null"] = True
                targets = list(app.models)
        to = draw(st.sampled_from(targets)).uid
    if kind in INDEXABLE_KINDS:
        flag = draw(st.sampled_from(("plain", "plain", "plain", "db_index", "unique")))
        if flag != "plain":
            options[flag] = True
    if draw(st.integers(0, 5)) == 0 and kind != "m2m":
        options["db_column"] = f"c{uid}"
    return FieldSpec(uid=uid, name=f"f{uid}", kind=kind, to=to, **options), app  # type: ignore[arg-type]


def _new_model(draw: st.DrawFn, app: AppSpec) -> AppSpec:
    """Return app with a new model of 1-4 fields."""
    uid, app = app.new_id()
    rank = max((m.rank for m in app.models), default=0) + 1
    model = ModelSpec(uid=uid, name=f"M{uid}", rank=rank)
    if draw(st.integers(0, 4)) == 0:
        model = replace(model, db_table=f"fzt{uid}")
    fields = []
    for _ in range(draw(st.integers(1, 4))):
        new, app = _new_field(draw, app, model, rank, adding=False)
        fields.append(new)
    model = replace(model, fields=tuple(fields))
    app = app.with_model(model)
    return _add_options(draw, app, model.uid)


def _add_options(draw: st.DrawFn, app: AppSpec, model_uid: int) -> AppSpec:
    """Maybe give a new model an index, constraints and unique_together."""
    model = app.model(model_uid)
    indexable = [f.uid for f in model.fields if f.kind in INDEXABLE_KINDS]
    ints = [f.uid for f in model.fields if f.kind in ("int", "bigint", "decimal")]
    if indexable and draw(st.booleans()):
        uid, app = app.new_id()
        fields = tuple(
            draw(st.lists(st.sampled_from(indexable), min_size=1, max_size=2, unique=True))
        )
        what = draw(st.sampled_from(("index", "unique", "together")))
        if what == "index":
            model = replace(model, indexes=(*model.indexes, (f"fzi{uid}", fields)))
        elif what == "unique":
            model = replace(
                model, unique_constraints=(*model.unique_constraints, (f"fzu{uid}", fields))
            )
        elif len(fields) == 2:
            model = replace(model, unique_together=(*model.unique_together, fields))
    if ints and draw(st.integers(0, 3)) == 0:
        uid, app = app.new_id()
        model = replace(
            model,
            check_constraints=(
                *model.check_constraints,
                (f"fzk{uid}", draw(st.sampled_from(ints))),
            ),
        )
    return app.with_model(model)


@st.composite
def apps(draw: st.DrawFn) -> AppSpec:
    """Draw an app of 1-3 models."""
    app = AppSpec()
    for _ in range(draw(st.integers(1, 3))):
        app = _new_model(draw, app)
    return app


# A change draws from its app and returns the changed app and a description
# (None when it does not apply); it notes what it renamed in the set:
# ("field", model uid, field uid) or ("model", model uid).
Renamed = set[tuple[str, int] | tuple[str, int, int]]
Change = Callable[[st.DrawFn, AppSpec, Renamed], tuple[AppSpec, str] | None]


def _without_field(model: ModelSpec, uid: int) -> ModelSpec:
    """Return model without the field of uid and what names it."""
    return replace(
        model,
        fields=tuple(f for f in model.fields if f.uid != uid),
        indexes=tuple(i for i in model.indexes if uid not in i[1]),
        unique_constraints=tuple(c for c in model.unique_constraints if uid not in c[1]),
        check_constraints=tuple(c for c in model.check_constraints if c[1] != uid),
        unique_together=tuple(t for t in model.unique_together if uid not in t),
    )


def _pick_field(
    draw: st.DrawFn, app: AppSpec, accept: Callable[[ModelSpec, FieldSpec], bool]
) -> tuple[ModelSpec, FieldSpec] | None:
    candidates = [(m, f) for m in app.models for f in m.fields if accept(m, f)]
    if not candidates:
        return None
    return draw(st.sampled_from(candidates))


def _replace_field(app: AppSpec, model: ModelSpec, new: FieldSpec) -> AppSpec:
    fields = tuple(new if f.uid == new.uid else f for f in model.fields)
    return app.with_model(replace(model, fields=fields))


def add_field(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    model = draw(st.sampled_from(app.models))
    new, app = _new_field(draw, app, model, model.rank, adding=True)
    model = app.model(model.uid)
    app = app.with_model(replace(model, fields=(*model.fields, new)))
    return app, f"add {model.name}.{new.name} = {new.render(app)}"


def remove_field(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    picked = _pick_field(draw, app, lambda m, f: len(m.fields) > 1)
    if picked is None:
        return None
    model, old = picked
    return app.with_model(_without_field(model, old.uid)), f"remove {model.name}.{old.name}"


def rename_field(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    picked = _pick_field(draw, app, lambda m, f: True)
    if picked is None:
        return None
    model, old = picked
    uid, app = app.new_id()
    keep = old.concrete and draw(st.booleans())
    new = replace(old, name=f"f{uid}", db_column=old.column() if keep else old.db_column)
    renames.add(("field", model.uid, old.uid))
    how = " keeping its column" if keep else ""
    return _replace_field(app, model, new), f"rename {model.name}.{old.name} to {new.name}{how}"


def add_model(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    if len(app.models) >= 4:
        return None
    app = _new_model(draw, app)
    return app, f"add model {app.models[-1].name}"


def remove_model(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    if len(app.models) < 2:
        return None
    gone = draw(st.sampled_from(app.models))
    models = []
    for model in app.models:
        if model.uid == gone.uid:
            continue
        for f in model.fields:
            if f.to == gone.uid:
                model = _without_field(model, f.uid)
        if model.fields:
            models.append(model)
    if not models:
        return None
    return replace(app, models=tuple(models)), f"remove model {gone.name}"


def rename_model(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    old = draw(st.sampled_from(app.models))
    uid, app = app.new_id()
    keep = draw(st.booleans())
    new = replace(old, name=f"M{uid}", db_table=old.table() if keep else old.db_table)
    renames.add(("model", old.uid))
    how = " keeping its table" if keep else ""
    return app.with_model(new), f"rename model {old.name} to {new.name}{how}"


def change_db_table(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    model = draw(st.sampled_from(app.models))
    uid, app = app.new_id()
    table = draw(st.sampled_from((None, f"fzt{uid}")))
    if table == model.db_table:
        return None
    return app.with_model(replace(model, db_table=table)), f"{model.name}.db_table = {table!r}"


def change_null(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    def accept(m: ModelSpec, f: FieldSpec) -> bool:
        if not f.concrete:
            return False
        # A NOT NULL relation points at a lower rank only (see ModelSpec.rank).
        return not (f.relation and f.null and app.model(f.to or 0).rank >= m.rank)

    picked = _pick_field(draw, app, accept)
    if picked is None:
        return None
    model, old = picked
    return (
        _replace_field(app, model, replace(old, null=not old.null)),
        f"{model.name}.{old.name}.null = {not old.null}",
    )


def change_default(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    picked = _pick_field(draw, app, lambda m, f: f.kind in SCALAR_KINDS)
    if picked is None:
        return None
    model, old = picked
    options = (
        (None, None),
        *(
            (d, None)
            for d in LITERAL_DEFAULTS.get(old.kind, ()) + CALLABLE_DEFAULTS.get(old.kind, ())
        ),
        *((None, d) for d in DB_DEFAULTS.get(old.kind, ())),
    )
    default, db_default = draw(st.sampled_from(options))
    if (default, db_default) == (old.default, old.db_default):
        return None
    if (default is not None or db_default is not None) and old.unique:
        return None  # Django's check fields.E... unique with a constant default is legal, but noisy
    new = replace(old, default=default, db_default=db_default)
    return _replace_field(
        app, model, new
    ), f"{model.name}.{old.name} default={default} db_default={db_default}"


def change_db_column(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    picked = _pick_field(draw, app, lambda m, f: f.concrete)
    if picked is None:
        return None
    model, old = picked
    uid, app = app.new_id()
    column = draw(st.sampled_from((None, f"c{uid}")))
    if column == old.db_column:
        return None
    return _replace_field(
        app, model, replace(old, db_column=column)
    ), f"{model.name}.{old.name}.db_column = {column!r}"


def change_index(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    picked = _pick_field(draw, app, lambda m, f: f.kind in INDEXABLE_KINDS)
    if picked is None:
        return None
    model, old = picked
    what = draw(st.sampled_from(("db_index", "unique")))
    value = not getattr(old, what)
    new = replace(old, **{what: value})
    if new.unique and (new.default is not None or new.db_default is not None):
        new = replace(new, default=None, db_default=None, null=True)
    return _replace_field(app, model, new), f"{model.name}.{old.name}.{what} = {value}"


def change_type(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    picked = _pick_field(draw, app, lambda m, f: f.kind in ("int", "bigint", "char", "decimal"))
    if picked is None:
        return None
    model, old = picked
    named = old.name in model.named_fields() or old.db_index or old.unique
    moves: list[dict[str, object]] = []
    if old.kind == "int":
        moves += [
            {"kind": "bigint"},
            {"kind": "char", "max_length": 20, "default": None, "db_default": None},
        ]
    elif old.kind == "bigint":
        moves += [{"kind": "int"}]
    elif old.kind == "char":
        moves += [{"max_length": old.max_length + 10}, {"max_length": old.max_length - 5}]
        if not named and old.default in (None, "''") and old.db_default is None:
            moves.append({"kind": "text"})
    elif old.kind == "decimal":
        moves += [
            {"max_digits": old.max_digits + 2},
            {"max_digits": old.max_digits + 1, "decimal_places": 3},
        ]
    move = draw(st.sampled_from(moves))
    new = replace(old, **move)  # type: ignore[arg-type]
    if new.kind != old.kind:
        if new.default is not None and new.default not in LITERAL_DEFAULTS.get(new.kind, ()):
            new = replace(new, default=None)
        if new.db_default is not None and new.db_default not in DB_DEFAULTS.get(new.kind, ()):
            new = replace(new, db_default=None)
        if new.default is None and new.db_default is None and not new.null:
            new = replace(new, null=True)
        if new.kind not in ("int", "bigint", "decimal"):
            model = replace(
                model,
                check_constraints=tuple(c for c in model.check_constraints if c[1] != old.uid),
            )
    changed = ", ".join(f"{k}={v!r}" for k, v in move.items())
    return _replace_field(app, model, new), f"{model.name}.{old.name}: {changed}"


def change_meta(draw: st.DrawFn, app: AppSpec, renames: Renamed) -> tuple[AppSpec, str] | None:
    model = draw(st.sampled_from(app.models))
    removable = (
        [("indexes", i) for i in model.indexes]
        + [("unique_constraints", c) for c in model.unique_constraints]
        + [("check_constraints", c) for c in model.check_constraints]
        + [("unique_together", t) for t in model.unique_together]
    )
    if removable and draw(st.booleans()):
        attribute, item = draw(st.sampled_from(removable))
        rest = tuple(x for x in getattr(model, attribute) if x != item)
        return app.with_model(
            replace(model, **{attribute: rest})
        ), f"{model.name}: remove {attribute} {item}"
    before = model
    app = _add_options(draw, app, model.uid)
    after = app.model(model.uid)
    if after == before:
        return None
    return (
        app,
        f"{model.name}: indexes/constraints {after.indexes} {after.unique_constraints} "
        f"{after.check_constraints} {after.unique_together}",
    )


CHANGES: dict[str, Change] = {
    "add_field": add_field,
    "remove_field": remove_field,
    "rename_field": rename_field,
    "add_model": add_model,
    "remove_model": remove_model,
    "rename_model": rename_model,
    "change_db_table": change_db_table,
    "change_null": change_null,
    "change_default": change_default,
    "change_db_column": change_db_column,
    "change_index": change_index,
    "change_type": change_type,
    "change_meta": change_meta,
}


@st.composite
def runs(draw: st.DrawFn, app: AppSpec, kinds: tuple[str, ...] = tuple(CHANGES)) -> Run:
    """Draw one makemigrations run: 1-3 changes of the given kinds to app."""
    start = app
    changes: list[str] = []
    renames: Renamed = set()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        result = CHANGES[kind](draw, app, renames)
        if result is not None:
            app, text = result
            changes.append(text)
    if not changes:
        # Always change something: a field Django adds without asking.
        app, text = add_field(draw, app, renames)  # type: ignore[misc]
        changes.append(text)
    return Run(app=app, changes=tuple(changes), renames=_renames(start, app, renames))


def _renames(start: AppSpec, end: AppSpec, renamed: Renamed) -> Renames:
    """Return the names of what was renamed from start to end.

    Django asks about a field by its model's new name. A thing renamed and
    changed again in the same run is seen by Django as a removal and an
    addition; the question is then never asked.
    """
    fields, models = set(), set()
    for item in renamed:
        model_uid = item[1]
        if not (start.has_model(model_uid) and end.has_model(model_uid)):
            continue
        before, after = start.model(model_uid), end.model(model_uid)
        if item[0] == "model":
            models.add((before.name.lower(), after.name.lower()))
            continue
        field_uid = item[2]  # type: ignore[misc]
        old = [f for f in before.fields if f.uid == field_uid]
        new = [f for f in after.fields if f.uid == field_uid]
        if old and new:
            fields.add((after.name.lower(), old[0].name, new[0].name))
    return Renames(fields=frozenset(fields), models=frozenset(models))


@st.composite
def scenarios(
    draw: st.DrawFn, kinds: tuple[str, ...] = tuple(CHANGES), max_runs: int = 2
) -> Scenario:
    """Draw a deployed app and 1-max_runs makemigrations runs deployed together."""
    initial = draw(apps())
    app = initial
    authored = []
    for _ in range(draw(st.integers(1, max_runs))):
        run = draw(runs(app, kinds))
        authored.append(run)
        app = run.app
    return Scenario(initial=initial, runs=tuple(authored))


__all__ = [
    "APP_LABEL",
    "AppSpec",
    "FieldSpec",
    "ModelSpec",
    "Renames",
    "Run",
    "Scenario",
    "apps",
    "dataclasses",
    "runs",
    "scenarios",
]
