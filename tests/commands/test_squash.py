"""squashmigrations keeps deploy stages: generated histories squashed, imported and deployed.

Each case authors a history with the package's makemigrations from a
sequence of changes to one model (a removal: a pre-deploy prep step and a
post-deploy drop; an addition with a default: a database default until
post-deploy; a nullable addition; a concurrent index: a non-atomic
pre-deploy migration; a phased rename), in one release (each change is a
pull request, authored before the release is deployed: pre-deploy
migrations are placed beside pending post-deploy ones) or in two (the first
deployed before the second is authored: they chain one after the other).
Then it squashes the history after the initial migration (and, of two
releases, the last one, and the range from the first post-deploy migration):

- the command refuses exactly when each stage needs a migration of the
  other first, names every migration with its stage, and suggests shorter
  ranges that can be squashed;
- otherwise each squash is of one stage, written as the package writes it,
  non-atomic when a migration it replaces is, replaces its own migrations
  and depends on the squash before it; without optimization its operations,
  written and imported again, deconstruct as the originals';
- ``makemigrations --check`` finds no change;
- a fresh database migrates forwards with a plain ``migrate`` and back;
- a database at every point of the original history (each prefix of the
  plan, and of the order a staged deploy applies it: pre-deploy done and
  post-deploy not) is deployed with the squashes present: ``showstages``
  lists the squash Django uses where it is whole, the pre-deploy stage
  applies the pre-deploy migrations (or refuses as the originals make it),
  the post-deploy stage the rest, ending in the originals' schema.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from green_makemigrations.executor import StagedMigrationExecutor
from green_makemigrations.management.commands.squashmigrations import SQUASHES_SQUASHED

from ..fuzz import harness
from ..fuzz.strategies import AppSpec, FieldSpec, ModelSpec, Renames
from ..subset import chosen
from ..unit.helpers import load_module

APP = harness.APP_LABEL
PRE, POST = "PRE_DEPLOY", "POST_DEPLOY"
Key = tuple[str, str]

# Release N: one model; each change takes the next field of its pool.
INITIAL = AppSpec(
    models=(
        ModelSpec(
            1,
            "Item",
            0,
            (
                FieldSpec(2, "name", "char"),
                FieldSpec(3, "code", "int"),
                FieldSpec(4, "weight", "int"),
                FieldSpec(5, "rank", "int"),
                FieldSpec(6, "size", "int"),
                FieldSpec(7, "title", "char"),
            ),
        ),
    ),
    next_id=8,
)
REMOVED = ("code", "weight")
INDEXED = ("rank", "size")
RENAMES = (("title", "heading"), ("heading", "headline"))
KINDS = ("remove", "add", "index", "rename", "nullable")


def change(app: AppSpec, kind: str, number: int) -> tuple[AppSpec, Renames]:
    """Return app with the number-th change of kind made, and the renames to confirm."""
    model = app.models[0]
    renames = Renames()
    if kind == "remove":
        fields = tuple(f for f in model.fields if f.name != REMOVED[number])
        model = replace(model, fields=fields)
    elif kind == "add":
        added = FieldSpec(app.next_id, f"added{number}", "int", default="7")
        model = replace(model, fields=(*model.fields, added))
    elif kind == "nullable":
        added = FieldSpec(app.next_id, f"note{number}", "char", null=True)
        model = replace(model, fields=(*model.fields, added))
    elif kind == "index":
        uid = next(f.uid for f in model.fields if f.name == INDEXED[number])
        model = replace(model, indexes=(*model.indexes, (f"fz_{INDEXED[number]}_idx", (uid,))))
    else:
        old, new = RENAMES[number]
        fields = tuple(replace(f, name=new) if f.name == old else f for f in model.fields)
        model = replace(model, fields=fields)
        renames = Renames(fields=frozenset({("item", old, new)}))
    return replace(app.with_model(model), next_id=app.next_id + 1), renames


Releases = tuple[tuple[str, ...], ...]


def describe(releases: Releases) -> str:
    """Return "remove+index" or "remove|add" (| separates releases)."""
    return "|".join("+".join(release) for release in releases)


# Every ordered pair of a removal, a concurrent index and a rename in one
# release; of an addition, a concurrent index and a nullable addition in two
# releases. Shared between the Django versions of a run (tests/subset.py);
# under each runs a removal beside a concurrent index (split in two, the
# pre-deploy squash not atomic).
CASES: list[Releases] = [
    ((first, second),) for first, second in itertools.permutations(("remove", "index", "rename"), 2)
] + [
    ((first,), (second,))
    for first, second in itertools.permutations(("add", "index", "nullable"), 2)
]
CHOSEN = chosen(CASES, lambda releases: describe(releases) == "remove+index")


@dataclass
class History:
    """The authored migrations: plan order, stages, what each needs, atomicity."""

    directory: Path
    plan: list[Key]
    stages: dict[Key, str]
    needs: dict[Key, set[Key]]
    atomic: dict[Key, bool]
    releases: list[list[Key]]
    base: harness.Schema  # the schema of release N (the initial migration)
    final: harness.Schema  # the schema of the last release

    def of_stage(self, keys: list[Key], stage: str) -> list[Key]:
        """Return the keys of stage, in plan order."""
        return [key for key in keys if self.stages[key] == stage]


def author(play: harness.Project, releases: Releases) -> History:
    """Deploy release N, author the releases (deploying each but the last); return the history."""
    app = INITIAL
    play.install(app)
    play.makemigrations(Renames(), stock=False)
    harness.command("migrate", APP)
    base = harness.schema()
    counts = dict.fromkeys(KINDS, 0)
    authored: list[list[str]] = []
    for index, release in enumerate(releases):
        if index:
            harness.command("migrate", APP)  # the previous release, deployed whole
        before = set(play.files())
        for kind in release:
            app, renames = change(app, kind, counts[kind])
            counts[kind] += 1
            play.install(app)
            play.makemigrations(renames, stock=False)
        authored.append(sorted(set(play.files()) - before))
    harness.command("migrate", APP)
    final = harness.schema()
    graph = MigrationLoader(None).graph
    [leaf] = graph.leaf_nodes(APP)
    plan = [key for key in graph.forwards_plan(leaf) if key[0] == APP]
    stages, atomic = {}, {}
    for key in plan:
        text = (play.migrations_dir / f"{key[1]}.py").read_text(encoding="utf-8")
        stages[key] = PRE if "    stage = Stage.PRE_DEPLOY\n" in text else POST
        atomic[key] = "    atomic = False\n" not in text
    needs = {key: set(graph.forwards_plan(key)) - {key} for key in plan}
    releases_keys = [[(APP, name) for name in names] for names in authored]
    return History(play.migrations_dir, plan, stages, needs, atomic, releases_keys, base, final)


def deep(value: Any) -> Any:
    """Return value with everything that deconstructs (fields, indexes) deconstructed, nested."""
    if hasattr(value, "deconstruct") and not isinstance(value, type):
        path, args, kwargs = value.deconstruct()[-3:]
        return (path, deep(list(args)), deep(kwargs))
    if isinstance(value, dict):
        return {name: deep(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [deep(item) for item in value]
    return value


def squash(start: str, end: str, **options: Any) -> str:
    """Run squashmigrations for the range quietly (--noinput); return its output."""
    return harness.command(
        "squashmigrations", APP, start, end, interactive=False, verbosity=1, **options
    )


def expected_split(history: History, keys: list[Key]) -> list[tuple[str, list[Key]]] | None:
    """Return the (stage, keys) squashes a range must give, None if it must be refused."""
    pre, post = history.of_stage(keys, PRE), history.of_stage(keys, POST)
    if not pre or not post:
        return [(PRE if pre else POST, keys)]
    for first, second in ((pre, post), (post, pre)):
        if not any(history.needs[key] & set(second) for key in first):
            return [(history.stages[first[0]], first), (history.stages[second[0]], second)]
    return None


@contextmanager
def hidden(paths: list[Path]) -> Iterator[None]:
    """Move the squashed migrations out of the package for the block (a database before them)."""
    aside = paths[0].parent.parent / "aside"
    aside.mkdir(exist_ok=True)
    for path in paths:
        shutil.move(path, aside / path.name)
    try:
        yield
    finally:
        for path in paths:
            shutil.move(aside / path.name, path)


def apply(keys: list[Key]) -> None:
    """Apply exactly these migrations, in order, as migrate applies them."""
    executor = StagedMigrationExecutor(connection)
    nodes = executor.loader.graph.nodes
    executor.migrate([], plan=[(nodes[key], False) for key in keys])


def applied() -> set[Key]:
    """Return the app's applied migrations."""
    return {key for key in MigrationRecorder(connection).applied_migrations() if key[0] == APP}


def showstages() -> dict[str, Any]:
    """Return showstages' JSON report of the app."""
    report: dict[str, Any] = json.loads(harness.command("showstages", APP, format="json"))
    return report


def check_squashed_files(
    history: History, written: list[Path], expected: list[tuple[str, list[Key]]]
) -> list[ModuleType]:
    """Check each written squash: stage line, atomicity, replaces, chained dependencies."""
    modules = [load_module(path) for path in written]
    by_replaces = {tuple(map(tuple, m.Migration.replaces)): m for m in modules}
    assert set(by_replaces) == {tuple(keys) for _, keys in expected}, by_replaces
    earlier: dict[Key, Key] = {}
    ordered = []
    for stage, keys in expected:
        module = by_replaces[tuple(keys)]
        ordered.append(module)
        text = Path(module.__file__ or "").read_text(encoding="utf-8")
        name = Path(module.__file__ or "").stem
        assert text.count("    stage = Stage.") == 1 and f"    stage = Stage.{stage}\n" in text
        assert module.Migration.stage == stage.lower()
        atomic = all(history.atomic[key] for key in keys)
        assert module.Migration.atomic is atomic, text
        assert ("    atomic = False\n" in text) is not atomic
        if len(expected) == 1:  # named as Django names it
            assert name == f"{keys[0][1]}_squashed_{keys[-1][1]}", name
        else:
            assert name.endswith(f"_{stage.lower()}"), name
            # Dependencies in the app: outside the squash, through the squash before it.
            wanted = {earlier.get(dep, dep) for key in keys for dep in history.needs[key]} - set(
                keys
            )
            for dependency in module.Migration.dependencies:
                assert tuple(dependency) in wanted, (name, dependency)
            if any(history.needs[key] & set(earlier) for key in keys):
                assert list(earlier.values())[0] in module.Migration.dependencies
        earlier.update({key: (APP, name) for key in keys})
    return ordered


def points(history: History) -> list[list[Key]]:
    """Return every point of the history: the migrations applied there, in plan order.

    Those are the prefixes of the plan (a plain migrate stopped part-way)
    and of the order a staged deploy applies them (each release's
    pre-deploy migrations, then its post-deploy ones: pre-deploy done and
    post-deploy not is a point even where the plan interleaves them).
    """
    staged = [history.plan[0]]
    for release in history.releases:
        staged += history.of_stage(release, PRE) + history.of_stage(release, POST)
    found: list[list[Key]] = []
    for order in (history.plan, staged):
        for length in range(len(order)):
            done = set(order[:length])
            point = [key for key in history.plan if key in done]
            if point not in found:
                found.append(point)
    return found


def check_points(history: History, squashed: list[Path]) -> None:
    """Deploy a database at every point of the original history, the squashes present."""
    replaces = {
        (APP, path.stem): [tuple(key) for key in load_module(path).Migration.replaces]
        for path in squashed
    }
    squash_of = {key: name for name, keys in replaces.items() for key in keys}
    for done in points(history):
        pending = [key for key in history.plan if key not in done]
        harness.drop_schema()
        with hidden(squashed):
            apply(done)
        where = f"at {', '.join(name for _, name in done) or 'an empty database'}"
        # Django uses a squash when all or none of what it replaces is applied.
        used = {
            name for name, keys in replaces.items() if len(set(keys) & set(done)) in (0, len(keys))
        }
        runs = {squash_of[key] if squash_of.get(key) in used else key for key in pending}
        # What the originals make the stages do here: everything in
        # pre-deploy on a first deploy; else the pre-deploy migrations, or a
        # refusal if one waits for a pending post-deploy one.
        post_pending = set(history.of_stage(pending, POST))
        blocked = bool(done) and any(
            history.needs[key] & post_pending for key in history.of_stage(pending, PRE)
        )
        pre_deploy = set(pending) if not done else set(history.of_stage(pending, PRE))
        report = showstages()
        listed = {
            stage: {(APP, entry["migration"].split(".", 1)[1]) for entry in report[stage]}
            for stage in ("pre_deploy", "post_deploy")
        }
        assert listed["pre_deploy"] | listed["post_deploy"] == runs, (where, listed)
        if blocked:
            assert report["refused"]["pre_deploy"] and not listed["pre_deploy"], (where, report)
            with pytest.raises(CommandError, match="cannot run"):
                harness.command("migrate", APP, stage="pre-deploy")
            assert applied() - set(replaces) == set(done), where
        else:
            expanded = {k for key in listed["pre_deploy"] for k in replaces.get(key, [key])}
            assert expanded == pre_deploy, (where, listed)
            harness.command("migrate", APP, stage="pre-deploy")
            assert applied() - set(replaces) == set(done) | pre_deploy, where
        harness.command("migrate", APP, stage="post-deploy")
        assert applied() == set(history.plan) | set(replaces), where
        difference = harness.schema_diff(history.final, harness.schema())
        assert not difference, f"{where}:\n{difference}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("releases", CHOSEN, ids=describe)
def test_squash_keeps_stages(releases: Releases, tmp_path: Path) -> None:
    with harness.project(tmp_path, "squash") as play:
        history = author(play, releases)
        ranges = [history.plan[1:]]
        if len(releases) > 1:
            # The last release; and from the first post-deploy migration on
            # (its squash runs first, the pre-deploy one after it).
            ranges.append(history.releases[-1])
            posts = history.of_stage(history.plan, POST)
            if posts:
                ranges.append(history.plan[history.plan.index(posts[0]) :])
        for keys in ranges:
            if len(keys) > 1:
                check_range(play, history, keys)


def check_range(play: harness.Project, history: History, keys: list[Key]) -> None:
    """Squash keys (a range of the plan); check the refusal, or the files and deploys."""
    expected = expected_split(history, keys)
    before = set(play.files())
    start, end = keys[0][1], keys[-1][1]
    if expected is None:
        with pytest.raises(CommandError) as refused:
            squash(start, end)
        message = str(refused.value)
        assert "Nothing was written" in message and set(play.files()) == before
        for key in keys:
            label = history.stages[key].lower().replace("_", "-")
            assert f"  - {key[1]} ({label}, written" in message, message
        # The shorter ranges it suggests can be squashed.
        suggested = re.findall(rf"`squashmigrations {APP} (\S+) (\S+)`", message)
        names = [name for _, name in keys]
        for first, last in suggested:
            begin = next(i for i, name in enumerate(names) if name.startswith(first))
            end = next(i for i, name in enumerate(names) if name.startswith(last))
            assert end > begin and expected_split(history, keys[begin : end + 1]), message
        return
    # Without optimization: the operations, written and imported, are the originals'.
    squash(start, end, no_optimize=True)
    written = [history.directory / f"{name}.py" for name in sorted(set(play.files()) - before)]
    assert len(written) == len(expected)
    modules = check_squashed_files(history, written, expected)
    loader = MigrationLoader(None, replace_migrations=False)
    for module, (_stage, squash_keys) in zip(modules, expected, strict=True):
        originals = [op for key in squash_keys for op in loader.graph.nodes[key].operations]
        assert deep(module.Migration.operations) == deep(originals)
    remove(play, written)
    # Optimized (the default): the files users get.
    squash(start, end)
    written = [history.directory / f"{name}.py" for name in sorted(set(play.files()) - before)]
    check_squashed_files(history, written, expected)
    harness.command("makemigrations", APP, check=True, dry_run=True)
    # A fresh database: plain migrate forwards (the squashes), then back.
    harness.drop_schema()
    harness.command("migrate", APP)
    assert applied() >= set(history.plan) | {(APP, p.stem) for p in written}
    assert not harness.schema_diff(history.final, harness.schema())
    harness.command("migrate", APP, history.plan[0][1])
    assert applied() == {history.plan[0]}
    assert not harness.schema_diff(history.base, harness.schema())
    check_points(history, written)
    remove(play, written)
    harness.drop_schema()


def remove(play: harness.Project, paths: list[Path]) -> None:
    """Delete written migrations, and what the import system remembers of them."""
    for path in paths:
        path.unlink()
        for compiled in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            compiled.unlink()
        sys.modules.pop(f"{play.migrations}.{path.stem}", None)


@pytest.mark.django_db(transaction=True)
def test_squash_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The prompt, Django's errors, a name taken, --squashed-name, no start, squashed ones."""
    with harness.project(tmp_path, "options") as play:
        history = author(play, (("remove", "index"),))
        names = [name for _, name in history.plan]  # 0001 .. 0005_post_deploy_merge
        squashes = ["0002_squashed_0004_pre_deploy", "0003_squashed_0005_post_deploy"]
        before = set(play.files())

        # The split is shown before the question; no writes nothing.
        monkeypatch.setattr("builtins.input", lambda prompt: "n")
        output = harness.command("squashmigrations", APP, "0002", "0005", verbosity=1)
        assert set(play.files()) == before
        for name in [*squashes, *names[1:]]:
            assert name in output, output

        # Django's own errors pass through.
        with pytest.raises(CommandError, match="Maybe it comes after"):
            squash("0005", "0002")
        with pytest.raises(CommandError, match="Cannot find a migration matching 'nope'"):
            squash("0002", "nope")

        # A name taken refuses before anything is written.
        taken = history.directory / f"{squashes[1]}.py"
        shutil.copy(history.directory / f"{names[-1]}.py", taken)
        with pytest.raises(CommandError, match=f"Migration {squashes[1]} already exists"):
            squash("0002", "0005")
        assert set(play.files()) == before | {squashes[1]}
        remove(play, [taken])

        # --squashed-name names each squash, with its stage.
        squash("0002", "0005", squashed_name="release_2")
        written = sorted(set(play.files()) - before)
        assert written == ["0002_release_2_pre_deploy", "0003_release_2_post_deploy"]
        remove(play, [history.directory / f"{name}.py" for name in written])

        # Without a start: the squash holding the initial migration is initial, as Django's.
        squash_all = harness.command(
            "squashmigrations", APP, "0005", interactive=False, verbosity=0
        )
        assert not squash_all
        written = sorted(set(play.files()) - before)
        assert written == ["0001_squashed_0004_pre_deploy", "0003_squashed_0005_post_deploy"]
        initial = load_module(history.directory / f"{written[0]}.py").Migration
        assert initial.initial is True and initial.atomic is False
        assert [name[:4] for _, name in initial.replaces] == ["0001", "0002", "0004"]
        harness.command("makemigrations", APP, check=True, dry_run=True)
        harness.drop_schema()
        harness.command("migrate", APP)
        assert not harness.schema_diff(history.final, harness.schema())
        assert applied() >= {(APP, name) for name in written}
        harness.command("migrate", APP, "zero")
        assert not applied()

        # Squashed migrations in the range: Django 5.2 refuses them, 6.0 squashes them.
        if SQUASHES_SQUASHED:
            squash(written[0], written[1])
            again = sorted(set(play.files()) - before - set(written))
            assert [name.rsplit("_", 2)[-2:] for name in again] == [
                ["pre", "deploy"],
                ["post", "deploy"],
            ]
        else:
            with pytest.raises(CommandError, match="does not squash squashed migrations"):
                squash(written[0], written[1])

        # A migration a squash replaces: Django uses the squash in its place.
        with pytest.raises(CommandError, match=f"replaced by squashed migration {written[0]}"):
            squash("0002", "0004")
