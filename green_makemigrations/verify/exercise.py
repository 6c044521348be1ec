"""``verifystages --exercise``: run both releases' queries against a scratch copy of the deploy.

The proof (proof.py) reads the schema from the migrations' declarations; a
RunSQL that says it does nothing to the schema, and does, fools it. The
exercise does not read, it runs: on a scratch database created as the test
runner creates one (the alias's test database name), it applies the deployed
migrations, then the pending plan's pre-deploy stage, then its post-deploy
stage, and at each moment writes and reads one row per model through the
historical models of every release running then:

- after the pre-deploy stage: the old release (the applied migrations'
  models) and the new release (the targets' models);
- after the post-deploy stage: the new release.

Per model, in a transaction that is always rolled back: an insert with a
value in every concrete field (related rows created first), a read back,
a queryset update, an instance save writing NULL into every nullable field,
a many-to-many add and read, a delete. Each query the database refuses is a
failure. The exercise reports only what it saw fail: it is no proof, and a
model whose fields it cannot fill is listed as not exercised. The real
database is never connected to: the alias's connection is swapped for the
scratch one and given back, and the scratch database is dropped, whatever
happens.
"""

from __future__ import annotations

import copy
import datetime
import decimal
import itertools
import os
import tempfile
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.graph import MigrationGraph
from django.db.migrations.state import ProjectState

from ..backends import get_backend
from ..constants import Stage
from ..exceptions import (
    GreenMigrationsError,
    MigrationStopped,
    StageConfigurationError,
    StagePlanError,
)
from ..executor import StagedMigrationExecutor
from .proof import AFTER_PRE, NEW, OLD

AFTER_POST = "after post-deploy"
MigrationKey = tuple[str, str]
INSTALL = (
    "verifystages --exercise needs django-test-migrations: "
    "pip install 'django-green-makemigrations[verify]' (or pip install django-test-migrations)."
)


class Unsupported(Exception):
    """A field the exercise cannot fill; its model is reported as not exercised."""


@dataclass(frozen=True)
class Failure:
    """One query the scratch database refused."""

    moment: str
    release: str  # "old", "new", or "" for a stage's migrations failing to apply
    model: str  # "app_label.Model", or the migration that failed to apply
    operation: str  # insert, read, update, save, m2m, delete, or migrate
    error: str  # the exception's class
    message: str  # its first line

    def as_dict(self) -> dict[str, str]:
        """Return the failure as plain data (the JSON report's entries)."""
        return asdict(self)


@dataclass
class Moment:
    """The models of one release exercised at one moment."""

    moment: str
    release: str
    exercised: list[str] = field(default_factory=list)
    not_exercised: list[tuple[str, str]] = field(default_factory=list)  # (model, why)

    def as_dict(self) -> dict[str, Any]:
        """Return the moment as plain data."""
        return {
            "moment": self.moment,
            "release": self.release,
            "exercised": self.exercised,
            "not_exercised": [{"model": m, "reason": r} for m, r in self.not_exercised],
        }


@dataclass
class Exercise:
    """What the exercise of one database's pending plan saw."""

    database: str
    scratch: str = ""
    ran: bool = False
    reason: str | None = None  # why it did not run
    moments: list[Moment] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def as_data(self) -> dict[str, Any]:
        """Return the exercise as plain data (the JSON report's "exercise" key)."""
        return {
            "ran": self.ran,
            "reason": self.reason,
            "scratch_database": self.scratch,
            "failures": [failure.as_dict() for failure in self.failures],
            "moments": [moment.as_dict() for moment in self.moments],
        }


def exercise(
    database: str, targets: Collection[tuple[str, str | None]], applied: set[MigrationKey]
) -> Exercise:
    """Exercise the plan from applied (the deployed migrations) to targets on a scratch database."""
    try:
        from django_test_migrations.migrator import Migrator
    except ImportError:
        raise GreenMigrationsError(INSTALL) from None

    result = Exercise(database)
    with scratch_database(database) as name:
        result.scratch = name
        connection = connections[database]
        # Migrator takes the scratch database to the deployed migrations and
        # gives their state, the old release. It cannot apply one stage of a
        # plan (it migrates to whole targets), so the stages go through the
        # package's StagedMigrationExecutor, as migrate --stage runs them.
        deployed: list[tuple[str, str | None]] = list(last_of(applied))
        old_state = Migrator(database).apply_tested_migration(deployed)
        planner = MigrationExecutor(connection)
        loader = planner.loader
        new = reached(loader.applied_migrations or (), planner.migration_plan(list(targets)))
        new_state = loader.project_state(last_of(new, loader.graph), at_end=True)
        migrated = set(planner.loader.migrated_apps)  # the others' tables are not created
        result.ran = True
        current = [""]  # the migration being applied, for a failure's report

        def progress(action: str, migration: Any = None, *_args: Any) -> None:
            if migration is not None and action.endswith("_start"):
                current[0] = f"{migration.app_label}.{migration.name}"

        for stage, moment, releases in (
            (Stage.PRE_DEPLOY, AFTER_PRE, ((OLD, old_state), (NEW, new_state))),
            (Stage.POST_DEPLOY, AFTER_POST, ((NEW, new_state),)),
        ):
            executor = StagedMigrationExecutor(connection, progress, stage=stage)
            try:
                executor.migrate(list(targets))
            except (StagePlanError, StageConfigurationError) as error:
                # The proof refuses such a plan too.
                result.reason = f"The {stage.label} stage refuses to run: {_first_line(error)}"
                result.ran = bool(result.moments)
                break
            except (DatabaseError, MigrationStopped) as error:
                during = f"{stage.label} stage"
                result.failures.append(
                    Failure(during, "", current[0], "migrate", *_describe(error))
                )
                break
            for release, state in releases:
                seen = _exercise_release(database, moment, release, state, migrated, result)
                result.moments.append(seen)
    return result


def reached(
    applied: Collection[MigrationKey], plan: list[tuple[Migration, bool]]
) -> set[MigrationKey]:
    """Return the migrations applied once plan has run on a database where applied are."""
    keys = set(applied)
    for migration, backwards in plan:
        key = (migration.app_label, migration.name)
        (keys.discard if backwards else keys.add)(key)
    return keys


def last_of(
    keys: Collection[MigrationKey], graph: MigrationGraph | None = None
) -> list[MigrationKey]:
    """Return the keys none of whose children is in keys: migrating to them applies all of keys.

    (A target that is a parent of another would make Django plan its
    children's rollback.) graph: the project's migration graph, loaded
    when not given.
    """
    if graph is None:
        graph = MigrationExecutor(None).loader.graph
    known = {key for key in keys if key in graph.nodes}
    children = {key: {child.key for child in graph.node_map[key].children} for key in known}
    return sorted(key for key in known if not children[key] & known)


@contextmanager
def scratch_database(database: str) -> Iterator[str]:
    """Swap the alias's connection for one to a new scratch database; yield its name.

    The scratch database is named as the test runner names the alias's test
    database (``test_`` prefixed when the alias already points at it, as
    under a test run); on SQLite it is a file in a temporary directory. It is
    created afresh (an existing one of that name is dropped, as ``test
    --noinput`` does) and always dropped, and the original connection, never
    closed nor changed, is put back.
    """
    original = connections[database]
    if original.in_atomic_block:
        raise GreenMigrationsError("verifystages --exercise cannot run inside a transaction.")
    settings_dict = copy.deepcopy(original.settings_dict)
    temp_dir = None
    if get_backend(original).database_is_a_file:
        temp_dir = tempfile.mkdtemp(prefix="green_exercise_")
        name = os.path.join(temp_dir, "scratch.sqlite3")
    else:
        name = creation_of(original)._get_test_db_name()
        if name == original.settings_dict["NAME"]:
            name = f"test_{name}"
    settings_dict.setdefault("TEST", {})["NAME"] = name
    scratch = type(original)(settings_dict, database)
    try:
        creation_of(scratch)._create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    except SystemExit:
        raise GreenMigrationsError(
            f"verifystages --exercise could not create the scratch database {name!r}."
        ) from None
    scratch.settings_dict["NAME"] = name
    connections[database] = scratch
    try:
        yield name
    finally:
        connections[database] = original
        scratch.close()
        creation_of(scratch)._destroy_test_db(name, verbosity=0)
        if temp_dir is not None:
            os.rmdir(temp_dir)


def creation_of(connection: BaseDatabaseWrapper) -> Any:
    """Return the connection's creation: the test runner's private helpers are used."""
    return connection.creation


def _exercise_release(
    database: str,
    moment: str,
    release: str,
    state: ProjectState,
    migrated: Collection[str],
    result: Exercise,
) -> Moment:
    """Exercise every concrete, managed model of one release's state that the database holds."""
    seen = Moment(moment, release)
    values = Values(connections[database])
    for model in sorted(state.apps.get_models(), key=lambda m: m._meta.label):
        opts = model._meta
        if opts.proxy or not opts.managed or opts.swapped or opts.app_label not in migrated:
            continue
        if not router.allow_migrate_model(database, model):
            continue  # the routers keep its table off this database
        try:
            failed = exercise_model(model, database, values)
        except Unsupported as reason:
            seen.not_exercised.append((opts.label, str(reason)))
            continue
        except Exception as error:  # a limit of the exercise, not a query the database refused
            seen.not_exercised.append((opts.label, f"the exercise failed: {_first_line(error)}"))
            continue
        seen.exercised.append(opts.label)
        result.failures += [
            Failure(moment, release, opts.label, operation, *_describe(error))
            for operation, error in failed
        ]
    return seen


def exercise_model(
    model: type[models.Model], database: str, values: Values
) -> list[tuple[str, BaseException]]:
    """Run a model's queries in a rolled back transaction; return (operation, error) per failure.

    Raises Unsupported when a field of the model (or of a model it must
    create a row of) cannot be filled.
    """
    failed: list[tuple[str, BaseException]] = []

    def step(operation: str, run: Callable[[], Any]) -> tuple[bool, Any]:
        try:
            with transaction.atomic(using=database):
                return True, run()
        except (DatabaseError, ObjectDoesNotExist) as error:
            failed.append((operation, error))
            return False, None

    opts = model._meta
    manager = model._base_manager.db_manager(database)
    relations = [f.name for f in opts.concrete_fields if f.is_relation]
    with transaction.atomic(using=database):
        try:
            done, obj = step("insert", lambda: values.create(model, database))
            if not done:
                return failed
            query = manager.select_related(*relations) if relations else manager.all()
            done, read = step("read", lambda: query.get(pk=obj.pk))
            obj = read if done else obj
            update = {f.name: values.value(f, database) for f in _filled(model)}
            step("update", lambda: manager.filter(pk=obj.pk).update(**update))
            for f in _filled(model):
                if f.null:
                    setattr(obj, f.attname, None)
            step("save", lambda: obj.save(using=database))
            for m2m in opts.many_to_many:
                through: Any = m2m.remote_field.through
                if not through._meta.auto_created:
                    continue  # exercised as a model of its own

                def add(name: str = m2m.name, target: Any = m2m.related_model) -> None:
                    related = getattr(obj, name)
                    related.add(values.create(target, database))
                    list(related.all())

                step("m2m", add)
            step("delete", lambda: obj.delete(using=database))
        finally:
            transaction.set_rollback(True, using=database)
    return failed


def _filled(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Return the concrete fields the exercise writes: all but generated and automatic keys."""
    fields = []
    for f in model._meta.concrete_fields:
        if isinstance(f, models.AutoField) or getattr(f, "generated", False):
            continue
        if f.is_relation and getattr(f.remote_field, "parent_link", False):
            continue
        fields.append(f)
    return fields


class Values:
    """Values for a release's fields: valid for the field, distinct on each call."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        """Generate values for connection's backend (its integer ranges)."""
        self.connection = connection
        self.counter = itertools.count(1)
        self.creating: list[type[models.Model]] = []

    def create(self, model: type[models.Model], database: str) -> models.Model:
        """Insert a row of model with a value in every field (related rows first); return it."""
        if model in self.creating:
            raise Unsupported(f"{model._meta.label} refers to itself through a NOT NULL key")
        self.creating.append(model)
        try:
            row = {f.name: self.value(f, database) for f in _filled(model)}
        finally:
            self.creating.pop()
        obj = model(**row)
        obj.save(using=database, force_insert=True)
        return obj

    def value(self, f: models.Field[Any, Any], database: str) -> Any:
        """Return a new value for field f (creating the row a key refers to)."""
        if f.is_relation:
            related: Any = f.related_model
            if related._meta.concrete_model in self.creating and f.null:
                return None
            return self.create(related, database)
        if f.choices:
            first = f.flatchoices[0][0]
            if first is not None and first != "":
                return first
        n = next(self.counter)
        kind = f.get_internal_type()
        if kind in ("BooleanField", "NullBooleanField"):
            return n % 2 == 0
        if kind.endswith("IntegerField"):
            low, high = self.connection.ops.integer_field_range(kind)
            return (high if high is not None else 2**31 - 1) - n
        if kind == "DecimalField":
            return _decimal(f, n)
        if kind == "FloatField":
            return 1.5 + n
        if kind == "DateTimeField":
            moment = datetime.datetime(2024, 1, 1, 12) + datetime.timedelta(seconds=n)
            return moment.replace(tzinfo=datetime.UTC) if settings.USE_TZ else moment
        if kind == "DateField":
            return datetime.date(2024, 1, 1) + datetime.timedelta(days=n)
        if kind == "TimeField":
            return datetime.time(12, n % 60, n // 60 % 60)
        if kind == "DurationField":
            return datetime.timedelta(seconds=90 + n)
        if kind == "UUIDField":
            return uuid.uuid4()
        if kind == "JSONField":
            return {"exercise": n}
        if kind == "BinaryField":
            return _fit(f, f"b{n}").encode()
        if kind in ("GenericIPAddressField", "IPAddressField"):
            return f"192.0.2.{n % 250 + 1}"
        if kind in ("CharField", "TextField", "SlugField", "FileField", "FilePathField"):
            if isinstance(f, models.EmailField):
                return _fit(f, f"u{n}@example.com", pad=False)
            if isinstance(f, models.URLField):
                return _fit(f, f"https://example.com/{n}", pad=False)
            if kind == "TextField":
                return f"text {n} " * 20
            return _fit(f, f"v{n}-")
        if kind == "ArrayField":
            return [self.value(f.base_field, database)]  # type: ignore[attr-defined]
        if f.null:
            return None  # still written: the column must exist
        raise Unsupported(f"no value for field {f.name} ({type(f).__name__})")


def _fit(f: models.Field[Any, Any], text: str, pad: bool = True) -> str:
    """Return text filling the field's max_length; distinct texts stay distinct where they fit."""
    limit = f.max_length or 40
    if len(text) > limit:
        digits = "".join(c for c in text if c.isdigit()) or "0"
        return _base36(int(digits))[-limit:]
    return text.ljust(limit, "x") if pad else text


def _base36(n: int) -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        n, digit = divmod(n, 36)
        text = alphabet[digit] + text
        if not n:
            return text


def _decimal(f: models.Field[Any, Any], n: int) -> decimal.Decimal:
    """Return a large value that fits the field's digits: 999.99 less n hundredths."""
    digits, places = f.max_digits or 10, f.decimal_places or 0  # type: ignore[attr-defined]
    largest = decimal.Decimal(10) ** (digits - places) - decimal.Decimal(1).scaleb(-places)
    value = largest - decimal.Decimal(n).scaleb(-places)
    return value if value > 0 else decimal.Decimal(n % 10).scaleb(-places)


def _describe(error: BaseException) -> tuple[str, str]:
    """Return an error's class name and the first line of its message."""
    return type(error).__name__, _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
