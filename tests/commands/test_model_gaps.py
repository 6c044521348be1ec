"""Model-level changes no phasing rule covered (issue 12): refused, or phased, never plain.

Each case is a small app written into a temporary package, release by
release: makemigrations writes the migrations of each release into one
history, which the tests apply forwards and backwards on the test database.

- A model renamed with its ``db_table`` kept renames the ``<model>_id``
  column of the auto-created through tables of its many-to-many fields and
  of those pointing at it (``from_<model>_id``/``to_<model>_id`` when
  self-referential), tables that keep their names, which the running release
  queries: refused, with the fix (an explicit through model first). The fix
  is checked: the rename then runs no SQL, and both releases add and list
  many-to-many rows.
- A rename Django is told is no rename (the question answered no, or not
  asked under ``--noinput``) creates the new model and re-points foreign keys
  at its empty table: refused, saying to answer yes, or to make the change in
  two releases.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext, extend_sys_path, override_settings

from green_makemigrations.questioner import GreenInteractiveQuestioner

from .utils import columns, tables

LABEL = "model_gaps"
HEADER = "from django.db import models\n\n\n"


@dataclass
class History:
    """A temporary app: its migrations package, and a way to install each release's models."""

    directory: Path
    module: str

    @property
    def path(self) -> Path:
        return self.directory / self.module / "migrations"

    def files(self) -> list[str]:
        return sorted(p.stem for p in self.path.glob("[0-9]*.py"))

    @contextmanager
    def release(self, models_text: str) -> Iterator[None]:
        """Install the app with models_text as its models module for the block."""
        package = f"{LABEL}_release_{uuid.uuid4().hex}"
        root = self.directory / package
        root.mkdir()
        (root / "__init__.py").touch()
        (root / "models.py").write_text(HEADER + models_text)
        (root / "apps.py").write_text(
            "from django.apps import AppConfig\n\n\n"
            "class GapsConfig(AppConfig):\n"
            f"    name = {package!r}\n"
            f"    label = {LABEL!r}\n"
            "    default_auto_field = 'django.db.models.AutoField'\n"
        )
        importlib.invalidate_caches()
        # Each release's classes replace the previous one's under the same label.
        global_apps.all_models.pop(LABEL, None)
        installed = [*global_apps_names(), f"{package}.apps.GapsConfig"]
        try:
            with override_settings(INSTALLED_APPS=installed):
                yield
        finally:
            global_apps.all_models.pop(LABEL, None)

    def makemigrations(self, **options: Any) -> None:
        importlib.invalidate_caches()
        call_command("makemigrations", LABEL, verbosity=0, **options)

    def state_apps(self, migration_name: str) -> Apps:
        """Return the app's models as a release whose last migration is migration_name has them."""
        importlib.invalidate_caches()
        loader = MigrationLoader(None, ignore_no_migrations=True)
        return loader.project_state((LABEL, migration_name), at_end=True).apps


def global_apps_names() -> list[str]:
    return list(settings.INSTALLED_APPS)


@pytest.fixture
def history(tmp_path: Path, transactional_db: None) -> Iterator[History]:
    """Yield an empty history of the app; drop its tables and records afterwards."""
    module = f"{LABEL}_history_{uuid.uuid4().hex}"
    (tmp_path / module / "migrations").mkdir(parents=True)
    (tmp_path / module / "__init__.py").touch()
    (tmp_path / module / "migrations" / "__init__.py").touch()
    with (
        extend_sys_path(str(tmp_path)),
        override_settings(MIGRATION_MODULES={LABEL: f"{module}.migrations"}),
    ):
        yield History(tmp_path, module)
    quote = connection.ops.quote_name
    cascade = " CASCADE" if connection.vendor == "postgresql" else ""
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        for table in sorted(t for t in tables() if t.startswith(f"{LABEL}_")):
            cursor.execute(f"DROP TABLE IF EXISTS {quote(table)}{cascade}")
    MigrationRecorder(connection).migration_qs.filter(app=LABEL).delete()


def migrate(*target: str, **options: Any) -> None:
    importlib.invalidate_caches()
    call_command("migrate", LABEL, *target, verbosity=0, **options)


# -- a model renamed with its table kept, under many-to-many fields ------------------------

TAG = "class Tag(models.Model):\n    name = models.CharField(max_length=20)\n\n\n"

KEPT_TABLE_CASES = {
    "own": (
        TAG + "class Book(models.Model):\n    tags = models.ManyToManyField(Tag)\n",
        TAG + "class Volume(models.Model):\n    tags = models.ManyToManyField(Tag)\n\n"
        "    class Meta:\n        db_table = 'model_gaps_book'\n",
        ["column book_id to volume_id of table model_gaps_book_tags (model_gaps.Book.tags)"],
    ),
    "pointed_at": (
        "class Book(models.Model):\n    pass\n\n\n"
        "class Reader(models.Model):\n    books = models.ManyToManyField(Book)\n",
        "class Volume(models.Model):\n    class Meta:\n        db_table = 'model_gaps_book'\n\n\n"
        "class Reader(models.Model):\n    books = models.ManyToManyField(Volume)\n",
        ["column book_id to volume_id of table model_gaps_reader_books (model_gaps.Reader.books)"],
    ),
    "self": (
        "class Person(models.Model):\n    friends = models.ManyToManyField('self')\n",
        "class Human(models.Model):\n    friends = models.ManyToManyField('self')\n\n"
        "    class Meta:\n        db_table = 'model_gaps_person'\n",
        [
            "column from_person_id to from_human_id of table model_gaps_person_friends "
            "(model_gaps.Person.friends)",
            "column to_person_id to to_human_id of table model_gaps_person_friends",
        ],
    ),
    # The table renamed (a view serves the old name) but not the table of
    # another model's many-to-many field: the same column problem.
    "pointed_at_table_renamed": (
        "class Book(models.Model):\n    pass\n\n\n"
        "class Reader(models.Model):\n    books = models.ManyToManyField(Book)\n",
        "class Volume(models.Model):\n    pass\n\n\n"
        "class Reader(models.Model):\n    books = models.ManyToManyField(Volume)\n",
        ["column book_id to volume_id of table model_gaps_reader_books (model_gaps.Reader.books)"],
    ),
}


@pytest.mark.parametrize("case", KEPT_TABLE_CASES)
def test_model_rename_renaming_kept_through_columns_is_refused(
    history: History, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after, columns = KEPT_TABLE_CASES[case]
    with history.release(before):
        history.makemigrations()
        migrate()
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # "Was Book renamed?"
    with history.release(after), pytest.raises(CommandError) as error:
        history.makemigrations(interactive=True)

    message = str(error.value)
    for column in columns:
        assert column in message
    assert "explicit through model" in message
    assert "SeparateDatabaseAndState" in message
    assert history.files() == ["0001_initial"]


# The fix the refusal gives, followed: release 1 declares the through model
# (a state-only migration), release 2 renames the model, keeping its table.
THROUGH_BEFORE = TAG + "class Book(models.Model):\n    tags = models.ManyToManyField(Tag)\n"
THROUGH_DECLARED = (
    TAG + "class Book(models.Model):\n"
    "    tags = models.ManyToManyField(Tag, through='BookTags')\n\n\n"
    "class BookTags(models.Model):\n"
    "    book = models.ForeignKey(Book, models.CASCADE)\n"
    "    tag = models.ForeignKey(Tag, models.CASCADE)\n\n"
    "    class Meta:\n"
    "        db_table = 'model_gaps_book_tags'\n"
    "        unique_together = [('book', 'tag')]\n"
)
THROUGH_RENAMED = (
    TAG + "class Volume(models.Model):\n"
    "    tags = models.ManyToManyField(Tag, through='BookTags')\n\n"
    "    class Meta:\n"
    "        db_table = 'model_gaps_book'\n\n\n"
    "class BookTags(models.Model):\n"
    "    book = models.ForeignKey(Volume, models.CASCADE)\n"
    "    tag = models.ForeignKey(Tag, models.CASCADE)\n\n"
    "    class Meta:\n"
    "        db_table = 'model_gaps_book_tags'\n"
    "        unique_together = [('book', 'tag')]\n"
)
STATE_ONLY = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("model_gaps", "0001_initial")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="BookTags",
                    fields=[
                        (
                            "id",
                            models.AutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("book", models.ForeignKey("model_gaps.book", models.CASCADE)),
                        ("tag", models.ForeignKey("model_gaps.tag", models.CASCADE)),
                    ],
                    options={
                        "db_table": "model_gaps_book_tags",
                        "unique_together": {("book", "tag")},
                    },
                ),
                migrations.AlterField(
                    model_name="book",
                    name="tags",
                    field=models.ManyToManyField(
                        through="model_gaps.BookTags", to="model_gaps.tag"
                    ),
                ),
            ],
        ),
    ]
"""
DDL = ("ALTER ", "CREATE ", "DROP ", "RENAME ")


def ddl(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(DDL)]


def tag_names(apps: Apps, model_name: str, pk: int) -> list[str]:
    book = apps.get_model(LABEL, model_name).objects.get(pk=pk)
    return sorted(book.tags.values_list("name", flat=True))


def test_explicit_through_model_first_makes_the_model_rename_sql_free(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    with history.release(THROUGH_BEFORE):
        history.makemigrations()
        migrate()
    (history.path / "0002_book_tags_through.py").write_text(STATE_ONLY)
    with history.release(THROUGH_DECLARED):
        history.makemigrations(check_changes=True, dry_run=True)  # the models match
        with CaptureQueriesContext(connection) as declared:
            migrate()
    assert ddl(declared) == []
    monkeypatch.setattr("builtins.input", lambda *args: "y")  # "Was Book renamed?"
    with history.release(THROUGH_RENAMED):
        history.makemigrations(interactive=True)
        new = history.files()[2:]
        assert len(new) == 1, new
        text = (history.path / f"{new[0]}.py").read_text()
        assert "migrations.RenameModel(" in text
        assert "    stage = Stage.PRE_DEPLOY\n" in text
        both_releases_share_the_rows(history, new[0])
        migrate("zero")


def both_releases_share_the_rows(history: History, renamed: str) -> None:
    """Apply renamed forwards, backwards, forwards: no DDL; both releases share the rows."""
    old_apps, new_apps = history.state_apps("0002_book_tags_through"), history.state_apps(renamed)
    tag = old_apps.get_model(LABEL, "Tag").objects.create(name="a")
    old_book = old_apps.get_model(LABEL, "Book").objects.create()
    old_book.tags.add(tag.pk)
    for direction in ("forwards", "backwards", "forwards"):
        with CaptureQueriesContext(connection) as queries:
            migrate(*(["0002_book_tags_through"] if direction == "backwards" else []))
        assert ddl(queries) == [], direction
        volume = new_apps.get_model(LABEL, "Volume").objects.create()
        volume.tags.add(tag.pk)
        book = old_apps.get_model(LABEL, "Book").objects.create()
        book.tags.add(tag.pk)
        assert tag_names(old_apps, "Book", volume.pk) == ["a"]
        assert tag_names(new_apps, "Volume", book.pk) == ["a"]
        assert tag_names(new_apps, "Volume", old_book.pk) == ["a"]
        volume.tags.remove(tag.pk)
        assert tag_names(old_apps, "Book", volume.pk) == []


# -- a rename answered no: the new model's table is empty ----------------------------------

DECLINED_BEFORE = (
    "class Book(models.Model):\n    title = models.CharField(max_length=20)\n\n\n"
    "class Review(models.Model):\n    book = models.ForeignKey(Book, models.CASCADE)\n"
)
DECLINED_CASES = {
    "foreign_key": DECLINED_BEFORE.replace("class Book", "class Volume").replace(
        "ForeignKey(Book", "ForeignKey(Volume"
    ),
    "one_to_one_null": DECLINED_BEFORE.replace("class Book", "class Volume").replace(
        "ForeignKey(Book, models.CASCADE)", "OneToOneField(Volume, models.CASCADE, null=True)"
    ),
    "many_to_many": (
        "class Volume(models.Model):\n    title = models.CharField(max_length=20)\n\n\n"
        "class Review(models.Model):\n    book = models.ManyToManyField(Volume)\n"
    ),
}


@pytest.mark.parametrize("case", DECLINED_CASES)
@pytest.mark.parametrize("interactive", [True, False], ids=["answered_no", "noinput"])
def test_declined_model_rename_is_refused(
    history: History, case: str, interactive: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = DECLINED_BEFORE
    if case == "many_to_many":
        before = before.replace("ForeignKey(Book, models.CASCADE)", "ManyToManyField(Book)")
    with history.release(before):
        history.makemigrations()
        migrate()
    monkeypatch.setattr("builtins.input", lambda *args: "n")  # "Was Book renamed?" no.
    with history.release(DECLINED_CASES[case]), pytest.raises(CommandError) as error:
        history.makemigrations(interactive=interactive)

    message = str(error.value)
    assert message.startswith(
        "model_gaps.review.book would point at model_gaps.volume, a new model, instead of "
        "model_gaps.book, which is deleted"
    )
    assert "answer yes when it asks whether model_gaps.book was renamed" in message
    assert "remove the old one in a later release" in message
    assert history.files() == ["0001_initial"]


def test_declined_rename_of_an_unreferenced_model_is_two_models(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing points at the old table: new model in pre-deploy, old one dropped in post-deploy."""
    with history.release(
        "class Book(models.Model):\n    title = models.CharField(max_length=20)\n"
    ):
        history.makemigrations()
        migrate()
    monkeypatch.setattr("builtins.input", lambda *args: "n")
    with history.release(
        "class Volume(models.Model):\n    title = models.CharField(max_length=20)\n"
    ):
        history.makemigrations(interactive=True)
        pre, post = [name for name in history.files() if name != "0001_initial"]
        assert "Stage.PRE_DEPLOY" in (history.path / f"{pre}.py").read_text()
        assert "Stage.POST_DEPLOY" in (history.path / f"{post}.py").read_text()
        migrate(stage="pre-deploy")
        migrate(stage="post-deploy")
        migrate("zero")


# -- releases of renames, in one or several runs, deployed and rolled back -----------------


def book(name: str, field: str, meta: str = "", title: str = "max_length=20") -> str:
    """Return the models text of a book model called name, with a field called field."""
    text = (
        TAG + f"class {name}(models.Model):\n    {field} = models.CharField({title})\n"
        "    tags = models.ManyToManyField(Tag)\n"
    )
    return text + (f"\n    class Meta:\n{meta}" if meta else "")


VOLUME_TABLE = "        db_table = 'model_gaps_volume'\n"
UNIQUE_TITLE = (
    "        constraints = [models.UniqueConstraint(fields=['title'], name='title_unique')]\n"
)
# Each case: the models of each makemigrations run, the first being the
# running release's; all the runs after it make one release.
RELEASES = {
    # A table change, then a field rename in another run (DropView's
    # rollback must not name the column the rename added).
    "table_then_field_rename": (
        [
            book("Book", "title"),
            book("Book", "title", VOLUME_TABLE),
            book("Book", "name", VOLUME_TABLE),
        ],
        "Book",
        "name",
    ),
    # (Django sees a model rename only if the fields, sorted by name, match:
    # tags, title -> tags, topic.)
    "model_and_field_renamed_in_one_run": (
        [book("Book", "title"), book("Volume", "topic")],
        "Volume",
        "topic",
    ),
    # SQLite rebuilds the renamed table while the mirror under its old name exists.
    "model_renamed_with_a_unique_constraint": (
        [book("Book", "title"), book("Volume", "title", UNIQUE_TITLE)],
        "Volume",
        "title",
    ),
    "model_renamed_then_field_altered_in_another_run": (
        [
            book("Book", "title"),
            book("Volume", "title"),
            book("Volume", "title", title="max_length=20, null=True"),
        ],
        "Volume",
        "title",
    ),
}


@pytest.mark.parametrize("case", RELEASES)
def test_release_deploys_rolls_back_and_deploys_again(
    history: History, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, new_model, new_field = RELEASES[case]
    with history.release(runs[0]):
        history.makemigrations()
        migrate()
    for name, answer in [("ask_rename", True), ("ask_rename_model", True)]:
        monkeypatch.setattr(GreenInteractiveQuestioner, name, lambda *args, a=answer: a)
    # The release's post-deploy migrations have not run anywhere yet.
    monkeypatch.setattr(GreenInteractiveQuestioner, "ask_pending_deployed", lambda *args: False)
    for models_text in runs[1:]:
        with history.release(models_text):
            history.makemigrations(interactive=True)
    with history.release(runs[-1]):
        files = history.files()
        old_apps = history.state_apps("0001_initial")
        new_apps = history.state_apps(files[-1])
        written = "".join((history.path / f"{name}.py").read_text() for name in files)
        if new_model != "Book":
            assert "RenameModelWithViews(" in written
        old = ("old", old_apps, "Book", "title")
        new = ("new", new_apps, new_model, new_field)
        tag = old_apps.get_model(LABEL, "Tag").objects.create(name="a")
        # Rows of the running release, there before the deploy.
        first = old_apps.get_model(LABEL, "Book").objects.create(title="first")
        first.tags.add(tag.pk)
        steps = [
            ("pre-deploy", None, [old, new]),
            ("post-deploy", None, [new]),
            # Rolled back: pre-deploy un-applies the post-deploy migrations,
            # post-deploy the pre-deploy ones.
            ("pre-deploy", "0001_initial", [old, new]),
            ("post-deploy", "0001_initial", [old]),
            ("pre-deploy", None, [old, new]),
            ("post-deploy", None, [new]),
        ]
        for number, (stage, target, releases) in enumerate(steps):
            migrate(*([target] if target else []), stage=stage)
            step = f"{stage} {target or ''}"
            if target and stage == "pre-deploy":
                # The view (SQLite: mirror) under the old name has the old columns only.
                assert set(columns("model_gaps_book")) == {"id", "title"}
            for release, state_apps, model_name, field in releases:
                model = state_apps.get_model(LABEL, model_name)
                row = model.objects.create(**{field: f"{release} {number}"})
                row.tags.add(tag.pk)
                assert list(row.tags.values_list("name", flat=True)) == ["a"], (step, release)
                model.objects.filter(pk=row.pk).update(**{field: f"{release} {number}!"})
                row.refresh_from_db()
                assert getattr(row, field) == f"{release} {number}!", (step, release)
                # Every row either release wrote is there, under the same key.
                assert model.objects.filter(pk__lte=row.pk).count() == row.pk, (step, release)
        migrate("zero")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="mirror tables are SQLite's")
@pytest.mark.parametrize("written", ["now", "before"], ids=["select", "values"])
def test_mirror_columns_are_read_from_its_triggers(transactional_db: None, written: str) -> None:
    """The triggers of a mirror, as written now and as written before rows were read back."""
    from green_makemigrations import mirror

    with connection.schema_editor() as editor:
        editor.execute('CREATE TABLE "gaps_t" ("id" integer PRIMARY KEY, "new" text)')
        editor.execute('CREATE TABLE "gaps_m" ("id" integer PRIMARY KEY, "old" text)')
        pairs = [('"id"', '"id"'), ('"new"', '"old"')]
        if written == "now":
            mirror._create_triggers(editor, "gaps_m", '"gaps_t"', '"gaps_m"', pairs, pairs[0])
        else:
            editor.execute(
                f'CREATE TRIGGER "{mirror.trigger_name("gaps_m", "from", "i")}" AFTER INSERT '
                'ON "gaps_t" FOR EACH ROW BEGIN INSERT INTO "gaps_m" ("id", "old") '
                'VALUES (NEW."id", NEW."new"); END'
            )
        try:
            assert mirror._mirrors_of(editor, "gaps_t") == {
                "gaps_m": [("id", "id"), ("new", "old")]
            }
        finally:
            mirror._drop_triggers(editor, "gaps_m")
            editor.execute('DROP TABLE "gaps_t"')
            editor.execute('DROP TABLE "gaps_m"')
