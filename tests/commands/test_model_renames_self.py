"""A renamed model with a many-to-many field to itself: both columns of its table change.

Release N has Person, with a UUID primary key (table
rename_self_app_person_friends with columns from_person_id and to_person_id);
the new release calls it Human. Both
releases add, read and remove friends while the stages run; rolled back, the
tables are as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from .utils import app_with_history, execute, select, tables

APP = "rename_self_app"
INITIAL = """import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Person",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False),
                ),
                ("name", models.CharField(max_length=20)),
                ("friends", models.ManyToManyField(symmetrical=False, to="rename_self_app.person")),
            ],
        ),
    ]
"""
OLD_M2M, NEW_M2M = f"{APP}_person_friends", f"{APP}_human_friends"


@pytest.fixture
def previous_release(
    tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Install the app at release N with two people, ann a friend of bob."""
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # "Was Person renamed?"
    with app_with_history(tmp_path, APP, INITIAL) as migrations:
        old_apps = MigrationLoader(None).project_state((APP, "0001_initial"), at_end=True).apps
        person = old_apps.get_model(APP, "Person")
        ann, bob = person.objects.create(name="ann"), person.objects.create(name="bob")
        ann.friends.add(bob)
        yield migrations
        for table in (NEW_M2M, OLD_M2M, f"{APP}_human", f"{APP}_person"):
            if table in tables():
                execute(f"DELETE FROM {table}")


def friends(model: type, name: str) -> list[str]:
    """Return the names of name's friends, through model's many-to-many field."""
    return sorted(model.objects.get(name=name).friends.values_list("name", flat=True))


def test_both_releases_keep_their_friends_through_every_stage(previous_release: Path) -> None:
    call_command("makemigrations", APP, interactive=True, verbosity=0)
    pre, post = sorted(path.stem for path in previous_release.glob("000[2-9]_*.py"))
    text = (previous_release / f"{pre}.py").read_text()
    assert "{'from_person_id': 'from_human_id', 'to_person_id': 'to_human_id'}" in text
    loader = MigrationLoader(None)
    person = loader.project_state((APP, "0001_initial"), at_end=True).apps.get_model(APP, "Person")
    human = loader.project_state((APP, post), at_end=True).apps.get_model(APP, "Human")

    call_command("migrate", APP, stage="pre-deploy", verbosity=0)
    assert NEW_M2M in tables()
    # Release N adds and reads friends under the old names, release N+1 under the new.
    carl = person.objects.create(name="carl")
    carl.friends.add(person.objects.get(name="ann"))
    assert friends(human, "carl") == ["ann"]
    dora = human.objects.create(name="dora")
    dora.friends.add(human.objects.get(name="bob"))
    assert friends(person, "dora") == ["bob"]
    person.objects.get(name="ann").friends.add(dora.pk)
    assert friends(human, "ann") == ["bob", "dora"]
    human.objects.get(name="ann").friends.remove(dora)
    assert friends(person, "ann") == ["bob"]
    ordered = f"SELECT from_human_id, to_human_id FROM {NEW_M2M} ORDER BY 1, 2"
    rows = select(ordered)
    assert len(rows) == 3

    call_command("migrate", APP, stage="post-deploy", verbosity=0)
    assert OLD_M2M not in tables()
    assert select(ordered) == rows
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, NEW_M2M)
    assert {info.name: bool(info.null_ok) for info in description} == {
        "id": False,
        "from_human_id": False,
        "to_human_id": False,
    }
    human.objects.get(name="carl").friends.add(dora)
    assert friends(human, "carl") == ["ann", "dora"]

    # Rolled back through both stages: release N's table and columns, every friendship kept.
    call_command("migrate", APP, pre, verbosity=0)
    assert friends(person, "carl") == ["ann", "dora"]
    call_command("migrate", APP, "0001", verbosity=0)
    assert NEW_M2M not in tables()
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, OLD_M2M)
    assert {info.name for info in description} == {"id", "from_person_id", "to_person_id"}
    assert friends(person, "ann") == ["bob"]
    assert friends(person, "carl") == ["ann", "dora"]
    assert friends(person, "dora") == ["bob"]
