"""Migrating backwards through sibling migrations leaves the schema their state says.

This package writes a pre-deploy migration beside a pending post-deploy one,
so an app's graph has siblings that Django's forward and backwards plans can
order differently. Django computed the state before each migration it undoes
from the forward order, and undid them in the backwards order: a migration
was undone with a state that still held an already undone sibling, and on
SQLite the table rebuild copied the sibling's dropped column back (fuzzer
finding F8). The executor now hands Django a forward order that mirrors the
backwards one.

The cases are random graphs of one app: each migration after the first
depends on some earlier ones and adds a column, or gives a column added by
one of its ancestors a database default or takes it away (a table rebuild on
SQLite); a last one merges the leaves. Everything is applied, then migrated
back to a random migration: the table's columns must be those of the state
of the migrations still applied, and migrating forwards again must give the
full schema.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db(transaction=True)

LABEL = "bwstates"
TABLE = "bwstates_thing"


@dataclass(frozen=True)
class Step:
    """One migration: its parents (indexes of earlier steps) and what it does."""

    parents: tuple[int, ...]
    # ("add", None) adds column c<index>; ("default", n) toggles the db_default of c<n>.
    action: tuple[str, int | None]


@st.composite
def graphs(draw: st.DrawFn) -> list[Step]:
    """Return the steps of a random graph; step 0 creates the table."""
    steps = [Step((), ("create", None))]
    for index in range(1, draw(st.integers(3, 7))):
        parents = draw(
            st.lists(st.integers(0, index - 1), min_size=1, max_size=2, unique=True).map(
                lambda found: tuple(sorted(found))
            )
        )
        added = sorted({n for n in _ancestors(steps, parents) if steps[n].action[0] == "add"})
        if added and draw(st.booleans()):
            steps.append(Step(parents, ("default", draw(st.sampled_from(added)))))
        else:
            steps.append(Step(parents, ("add", None)))
    # One leaf, as migrate requires: a merge of the others.
    leaves = set(range(len(steps))) - {p for step in steps for p in step.parents}
    steps.append(Step(tuple(sorted(leaves)), ("merge", None)))
    return steps


def _ancestors(steps: list[Step], parents: tuple[int, ...]) -> set[int]:
    found: set[int] = set()
    todo = list(parents)
    while todo:
        index = todo.pop()
        if index not in found:
            found.add(index)
            todo.extend(steps[index].parents)
    return found


def _field(has_default: bool) -> str:
    default = ", db_default=7" if has_default else ""
    return f"models.IntegerField(null=True{default})"


def render(steps: list[Step], index: int) -> str:
    """Return the source of migration index."""
    step = steps[index]
    dependencies = ", ".join(f"({LABEL!r}, 'm{parent}')" for parent in step.parents)
    kind, target = step.action
    if kind == "create":
        operation = (
            "migrations.CreateModel(name='Thing', fields=[('id', models.AutoField("
            "primary_key=True, serialize=False))])"
        )
    elif kind == "merge":
        operation = ""
    elif kind == "add":
        operation = (
            f"migrations.AddField(model_name='thing', name='c{index}', field={_field(False)})"
        )
    else:
        # Toggle against the state the field has in this migration's ancestors.
        toggles = sum(
            1 for n in _ancestors(steps, step.parents) if steps[n].action == ("default", target)
        )
        field = _field(toggles % 2 == 0)
        operation = f"migrations.AlterField(model_name='thing', name='c{target}', field={field})"
    return (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [{dependencies}]\n"
        f"    operations = [{operation}]\n"
    )


@pytest.fixture
def app_package() -> Iterator[Path]:
    """Yield the migrations folder of an app LABEL installed for the test."""
    with tempfile.TemporaryDirectory() as root:
        package = f"bwstates_{uuid.uuid4().hex[:12]}"
        folder = Path(root) / package
        (folder / "migrations").mkdir(parents=True)
        (folder / "__init__.py").touch()
        (folder / "migrations" / "__init__.py").touch()
        (folder / "apps.py").write_text(
            "from django.apps import AppConfig\n\n\n"
            "class Config(AppConfig):\n"
            "    default = True\n"
            f"    name = {package!r}\n"
            f"    label = {LABEL!r}\n"
        )
        sys.path.insert(0, root)
        try:
            with override_settings(
                INSTALLED_APPS=[*_installed(), package],
                MIGRATION_MODULES={LABEL: f"{package}.migrations"},
            ):
                yield folder / "migrations"
        finally:
            sys.path.remove(root)
            for name in [m for m in sys.modules if m.startswith(package)]:
                del sys.modules[name]


def _installed() -> list[str]:
    from django.conf import settings as django_settings

    return list(django_settings.INSTALLED_APPS)


def columns() -> set[str]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if TABLE not in tables:
            return set()
        description = connection.introspection.get_table_description(cursor, TABLE)
    return {column.name for column in description}


def state_columns() -> set[str]:
    """Return the columns of the table in the state of the applied migrations."""
    loader = MigrationLoader(connection)
    applied = [key for key in loader.applied_migrations if key[0] == LABEL]
    if not applied:
        return set()
    state = loader.project_state(applied, at_end=True)
    if (LABEL, "thing") not in state.models:
        return set()
    model = state.apps.get_model(LABEL, "thing")
    return {field.column for field in model._meta.local_fields}


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=graphs(), data=st.data())
def test_migrating_back_leaves_the_state_of_what_stays_applied(
    app_package: Path, steps: list[Step], data: st.DataObject
) -> None:
    for old in app_package.glob("m*.py"):
        old.unlink()
    for index in range(len(steps)):
        (app_package / f"m{index}.py").write_text(render(steps, index))
    importlib.invalidate_caches()
    for name in [m for m in sys.modules if m.startswith(app_package.parent.name + ".migrations.")]:
        del sys.modules[name]
    target = data.draw(st.integers(0, len(steps) - 2), label="target")
    try:
        call_command("migrate", LABEL, verbosity=0)
        full = columns()
        assert full == state_columns()
        call_command("migrate", LABEL, f"m{target}", verbosity=0)
        assert columns() == state_columns(), f"after migrating back to m{target}"
        call_command("migrate", LABEL, verbosity=0)
        assert columns() == full
    finally:
        call_command("migrate", LABEL, "zero", verbosity=0)
        assert columns() == set()
