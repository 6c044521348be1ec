"""Benchmark green_makemigrations against stock Django on a generated 300-model project.

Run from the repository root::

    python benchmarks/bench_makemigrations.py [--models 300] [--repeat 5]
        [--backend sqlite|postgresql|mysql] [--json PATH] [--profile DIR] [--keep]

It generates, in a temporary directory, a project of ``--models`` models spread
over ``--apps`` apps, writes release N's migrations with green_makemigrations'
``makemigrations``, then a release N+1 that removes fields from about one model
in six, deletes a few models and adds a few nullable fields. Each command is
timed as one whole ``python manage.py ...`` process (wall clock and CPU time),
stock and ours interleaved, ``--repeat`` times after one warm-up round; the
verdict uses the median over rounds of the ratio of CPU times. "Stock" is the same
project with settings that do not install green_makemigrations, so Django's own
commands run. The autodetector alone is also timed in-process, to separate
process start-up and graph loading from the work this package adds.

PostgreSQL and MySQL use a throw-away database (``green_bench_<pid>``) on the
server of GREEN_POSTGRES_URL / GREEN_MYSQL_URL (the test suite's variables),
dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scratch_db import scratch_database

TARGET = 1.10  # ours may take at most 10% longer than stock.

APP_NAMES = [
    "accounts",
    "billing",
    "catalog",
    "crm",
    "inventory",
    "logistics",
    "marketing",
    "reports",
    "support",
    "content",
    "payments",
    "scheduling",
]
NOUNS = [
    "Customer", "Order", "Invoice", "Product", "Supplier", "Shipment", "Warehouse", "Payment",
    "Coupon", "Campaign", "Ticket", "Comment", "Article", "Author", "Category", "Tag", "Review",
    "Address", "Contract", "Employee", "Department", "Project", "Task", "Event", "Venue",
    "Booking", "Subscription", "Plan", "Report", "Attachment",
]  # fmt: skip

# Scalar fields: (name, code, removal kind). The removal kind says which prep
# step green_makemigrations writes when the field is removed.
SCALAR_FIELDS: list[tuple[str, str, str]] = [
    ("title", "models.CharField(max_length=200)", "not_null"),
    ("body", "models.TextField(blank=True)", "not_null"),
    ("quantity", "models.IntegerField()", "not_null"),
    ("is_active", "models.BooleanField(default=True)", "literal_default"),
    ("score", "models.PositiveIntegerField(default=0)", "literal_default"),
    (
        "status",
        'models.CharField(max_length=20, choices=[("draft", "Draft"), ("live", "Live")], '
        'default="draft")',
        "literal_default",
    ),
    ("created_at", "models.DateTimeField(auto_now_add=True)", "now_default"),
    ("updated_at", "models.DateTimeField(auto_now=True)", "now_default"),
    ("starts_at", "models.DateTimeField(default=timezone.now)", "now_default"),
    ("published_on", "models.DateField(null=True, blank=True)", "nullable"),
    (
        "amount",
        "models.DecimalField(max_digits=12, decimal_places=2, default=1)",
        "literal_default",
    ),
    ("ratio", "models.FloatField(null=True, blank=True)", "nullable"),
    ("email", 'models.EmailField(blank=True, default="")', "literal_default"),
    ("code", "models.SlugField(max_length=80)", "not_null"),
    ("uid", "models.UUIDField(default=uuid.uuid4, editable=False)", "callable_default"),
    ("payload", "models.JSONField(default=dict, blank=True)", "callable_default"),
    ("duration", "models.DurationField(null=True, blank=True)", "nullable"),
    ("notes", "models.TextField(null=True, blank=True)", "nullable"),
]
ADDED_FIELD = "models.CharField(max_length=100, null=True, blank=True)"
REMOVAL_KINDS = [
    "not_null",
    "literal_default",
    "now_default",
    "fk",
    "callable_default",
    "nullable",
    "m2m",
]


@dataclass
class FieldSpec:
    name: str
    code: str
    kind: str  # removal kind: see SCALAR_FIELDS, plus "fk", "fk_null", "o2o", "m2m"
    target: str | None = None  # "app.Model" for relations


@dataclass
class ModelSpec:
    app: str
    name: str
    fields: list[FieldSpec] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)
    meta_fields: set[str] = field(default_factory=set)  # used by indexes / constraints

    @property
    def label(self) -> str:
        return f"{self.app}.{self.name}"


@dataclass
class Release:
    """What release N+1 changes in release N's models."""

    removed: dict[str, list[str]] = field(default_factory=dict)  # model label -> field names
    removed_kinds: dict[str, int] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    added: dict[str, list[str]] = field(default_factory=dict)


def generate_models(n_models: int, n_apps: int, seed: int) -> list[ModelSpec]:
    """Return n_models deterministic model specs spread over n_apps apps."""
    rng = random.Random(seed)
    apps = [APP_NAMES[i] if i < len(APP_NAMES) else f"app{i:02d}" for i in range(n_apps)]
    specs: list[ModelSpec] = []
    for index in range(n_models):
        app = apps[index % n_apps]
        position = index // n_apps
        name = NOUNS[position % len(NOUNS)] + (
            str(position // len(NOUNS)) if position >= len(NOUNS) else ""
        )
        model = ModelSpec(app, name)
        for field_name, code, kind in rng.sample(SCALAR_FIELDS, rng.randint(6, 12)):
            model.fields.append(FieldSpec(field_name, code, kind))
        # Relations point at models defined earlier (same app or an earlier
        # app), like a real project's layering; some at the user model.
        earlier = [m for m in specs if apps.index(m.app) <= apps.index(app)]
        for number in range(rng.choice([0, 1, 1, 2, 2, 3]) if earlier else 0):
            target = rng.choice(earlier)
            related = f'related_name="{app}_{name.lower()}_fk{number}"'
            if rng.random() < 0.5:
                model.fields.append(
                    FieldSpec(
                        f"{target.name.lower()}_{number}",
                        f'models.ForeignKey("{target.label}", on_delete=models.CASCADE, {related})',
                        "fk",
                        target.label,
                    )
                )
            else:
                model.fields.append(
                    FieldSpec(
                        f"{target.name.lower()}_{number}",
                        f'models.ForeignKey("{target.label}", null=True, blank=True, '
                        f"on_delete=models.SET_NULL, {related})",
                        "nullable",
                        target.label,
                    )
                )
        if rng.random() < 0.15:
            model.fields.append(
                FieldSpec(
                    "owner",
                    "models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, "
                    f'related_name="{app}_{name.lower()}_owned")',
                    "fk",
                )
            )
        if earlier and rng.random() < 0.04:
            target = rng.choice(earlier)
            model.fields.append(
                FieldSpec(
                    "profile",
                    f'models.OneToOneField("{target.label}", on_delete=models.CASCADE, '
                    f'related_name="{app}_{name.lower()}_profile")',
                    "fk",
                    target.label,
                )
            )
        if earlier and rng.random() < 0.12:
            target = rng.choice(earlier)
            model.fields.append(
                FieldSpec(
                    "links",
                    f'models.ManyToManyField("{target.label}", blank=True, '
                    f'related_name="{app}_{name.lower()}_links")',
                    "m2m",
                    target.label,
                )
            )
        _add_meta(model, rng)
        specs.append(model)
    return specs


def _add_meta(model: ModelSpec, rng: random.Random) -> None:
    # No TEXT / JSON columns: MySQL cannot index them without a prefix length.
    concrete = [
        f.name
        for f in model.fields
        if f.kind != "m2m" and f.name not in {"body", "notes", "payload"}
    ]
    prefix = f"{model.app[:6]}_{model.name.lower()[:10]}"
    if rng.random() < 0.3:
        fields = rng.sample(concrete, min(len(concrete), rng.choice([1, 2])))
        model.meta.append(f'indexes = [models.Index(fields={fields!r}, name="{prefix}_idx")]')
        model.meta_fields.update(fields)
    if rng.random() < 0.1 and len(concrete) >= 2:
        fields = rng.sample(concrete, 2)
        model.meta.append(f"unique_together = [{tuple(fields)!r}]")
        model.meta_fields.update(fields)
    if rng.random() < 0.05 and len(concrete) >= 2:
        fields = rng.sample(concrete, 2)
        model.meta.append(
            f'constraints = [models.UniqueConstraint(fields={fields!r}, name="{prefix}_uniq")]'
        )
        model.meta_fields.update(fields)
    if rng.random() < 0.2:
        model.meta.append(f'ordering = ["-{model.fields[0].name}"]')
        model.meta_fields.add(model.fields[0].name)
    if rng.random() < 0.3:
        model.meta.append(f'verbose_name = "{model.name.lower()} record"')


def plan_release(specs: list[ModelSpec], seed: int) -> Release:
    """Choose what release N+1 removes, deletes and adds."""
    rng = random.Random(seed + 1)
    release = Release()
    referenced = {f.target for m in specs for f in m.fields if f.target}
    candidates = specs[:]
    rng.shuffle(candidates)
    n_removed = max(1, len(specs) // 6)
    n_deleted = max(1, len(specs) // 60)
    n_added = max(1, len(specs) // 30)
    for model in candidates:
        if len(release.deleted) >= n_deleted:
            break
        if model.label not in referenced:
            release.deleted.add(model.label)
    kinds = iter(REMOVAL_KINDS * len(specs))
    for model in candidates:
        if len(release.removed) >= n_removed:
            break
        if model.label in release.deleted:
            continue
        removable = [f for f in model.fields if f.name not in model.meta_fields]
        wanted = next(kinds)
        chosen = [f for f in removable if f.kind == wanted][:1]
        if not chosen:
            chosen = removable[:1]
        if chosen and len(removable) > 2 and rng.random() < 0.3:
            extra = [f for f in removable if f not in chosen]
            chosen.append(rng.choice(extra))
        if chosen and len(chosen) < len(model.fields):
            release.removed[model.label] = [f.name for f in chosen]
            for spec in chosen:
                release.removed_kinds[spec.kind] = release.removed_kinds.get(spec.kind, 0) + 1
    for model in candidates[::-1]:
        if len(release.added) >= n_added:
            break
        if model.label not in release.deleted:
            release.added[model.label] = ["extra_info"]
    return release


def render_models(app: str, specs: list[ModelSpec], release: Release | None) -> str:
    """Return the models.py of app, at release N (release=None) or N+1."""
    lines = [
        "import uuid",
        "",
        "from django.conf import settings",
        "from django.db import models",
        "from django.utils import timezone",
        "",
    ]
    for model in specs:
        if model.app != app:
            continue
        if release is not None and model.label in release.deleted:
            continue
        removed = set(release.removed.get(model.label, [])) if release else set()
        lines += ["", f"class {model.name}(models.Model):"]
        for spec in model.fields:
            if spec.name not in removed:
                lines.append(f"    {spec.name} = {spec.code}")
        if release is not None:
            for name in release.added.get(model.label, []):
                lines.append(f"    {name} = {ADDED_FIELD}")
        if model.meta:
            lines += ["", "    class Meta:"] + [f"        {line}" for line in model.meta]
        lines += ["", "    def __str__(self):", "        return str(self.pk)", ""]
    return "\n".join(lines)


# -- project files --------------------------------------------------------

MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings.green")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

CONTRIB_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
]


def write_project(
    root: Path, apps: list[str], specs: list[ModelSpec], release: Release | None, db: dict[str, Any]
) -> None:
    """Write a project (manage.py, settings, apps with models and no migrations) at root."""
    root.mkdir(parents=True)
    (root / "manage.py").write_text(MANAGE_PY)
    settings_dir = root / "bench_settings"
    settings_dir.mkdir()
    (settings_dir / "__init__.py").write_text("")
    (settings_dir / "base.py").write_text(
        textwrap.dedent(
            f"""\
            SECRET_KEY = "benchmark"
            USE_TZ = True
            DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
            DATABASES = {{"default": {db!r}}}
            PROJECT_APPS = {CONTRIB_APPS + apps!r}
            """
        )
    )
    (settings_dir / "stock.py").write_text(
        "from .base import *  # noqa: F403\n\nINSTALLED_APPS = PROJECT_APPS  # noqa: F405\n"
    )
    (settings_dir / "green.py").write_text(
        "from .base import *  # noqa: F403\n\n"
        'INSTALLED_APPS = ["green_makemigrations", *PROJECT_APPS]  # noqa: F405\n'
    )
    for app in apps:
        app_dir = root / app
        (app_dir / "migrations").mkdir(parents=True)
        (app_dir / "__init__.py").write_text("")
        (app_dir / "migrations" / "__init__.py").write_text("")
        (app_dir / "models.py").write_text(render_models(app, specs, release))


def copy_migrations(source: Path, target: Path, apps: list[str]) -> None:
    for app in apps:
        for path in (source / app / "migrations").glob("*.py"):
            shutil.copy(path, target / app / "migrations" / path.name)


# -- databases -------------------------------------------------------------


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[dict[str, Any]]:
    """Yield a DATABASES entry for an empty database, dropped on exit."""
    if backend == "sqlite":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / "db.sqlite3")}
        return
    with scratch_database(backend, f"green_bench_{os.getpid()}") as entry:
        yield entry


# -- running commands --------------------------------------------------------


@dataclass
class Command:
    """One ``manage.py`` invocation to time."""

    key: str
    project: Path
    settings: str  # "stock" or "green"
    args: list[str]
    check: Callable[[subprocess.CompletedProcess[str]], str | None]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def compile_bytecode(python: str, projects: list[Path]) -> None:
    """Compile green_makemigrations and the projects to bytecode, as pip does for a wheel.

    Django, installed from a wheel, is compiled; green_makemigrations,
    installed editable from the checkout, is not, and PYTHONDONTWRITEBYTECODE
    (set on some machines) keeps it so: every process would compile it again
    and the comparison would time the compiler.
    """
    package = Path(__file__).resolve().parents[1] / "green_makemigrations"
    targets = [str(package), *(str(project) for project in projects)]
    subprocess.run([python, "-m", "compileall", "-q", *targets], check=True)
    print(f"  compiled bytecode of {len(targets)} trees (as pip does when it installs)")


def run_manage(
    python: str, project: Path, settings: str, args: list[str], profile: Path | None = None
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Run one manage.py process; return its wall-clock time, CPU time and result.

    CPU time (user + system) is much less disturbed than wall-clock time by
    other processes competing for the machine's cores.
    """
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=f"bench_settings.{settings}")
    env.pop("PYTHONPATH", None)
    command = [python]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += ["manage.py", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu, result


def expect(
    returncode: int = 0, contains: tuple[str, ...] = (), lacks: tuple[str, ...] = ()
) -> Callable[[subprocess.CompletedProcess[str]], str | None]:
    """Return a check of a command's exit code and output."""

    def check(result: subprocess.CompletedProcess[str]) -> str | None:
        output = result.stdout + result.stderr
        if result.returncode != returncode:
            return f"exit code {result.returncode}, expected {returncode}:\n{output[-3000:]}"
        for text in contains:
            if text not in output:
                return f"output lacks {text!r}:\n{output[-3000:]}"
        for text in lacks:
            if text in output:
                return f"output contains {text!r}:\n{output[-3000:]}"
        return None

    return check


def checked_run(python: str, project: Path, settings: str, args: list[str]) -> str:
    elapsed, _cpu, result = run_manage(python, project, settings, args)
    if result.returncode != 0:
        raise SystemExit(
            f"`manage.py {' '.join(args)}` ({settings}) failed:\n{result.stdout}\n{result.stderr}"
        )
    print(f"  manage.py {' '.join(args)} ({settings}): {elapsed:.1f}s", flush=True)
    return result.stdout


# -- in-process autodetector -----------------------------------------------------

INPROCESS = "--_inprocess"


def inprocess_main(project: str, repeat: int) -> None:
    """Time MigrationAutodetector and GreenMigrationAutodetector on project's changes."""
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings.green"
    import django

    django.setup()
    from django.apps import apps
    from django.db.migrations.autodetector import MigrationAutodetector
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
    from django.db.migrations.state import ProjectState

    from green_makemigrations.autodetector import GreenMigrationAutodetector
    from green_makemigrations.plan import graph_stages
    from green_makemigrations.questioner import GreenNonInteractiveQuestioner

    start = time.perf_counter()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    load_time = time.perf_counter() - start
    from_state = loader.project_state()
    to_state = ProjectState.from_apps(apps)

    def detect(
        autodetector: type[MigrationAutodetector], questioner: Any
    ) -> tuple[float, float, int]:
        before, after = from_state.clone(), to_state.clone()
        start, start_cpu = time.perf_counter(), time.process_time()
        changes = autodetector(before, after, questioner).changes(graph=loader.graph)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        return elapsed, cpu, sum(len(m) for m in changes.values())

    times: dict[str, list[float]] = {"stock": [], "green": [], "graph_stages": []}
    cpu_times: dict[str, list[float]] = {"stock": [], "green": [], "graph_stages": []}
    counts: dict[str, int] = {}
    for index in range(repeat + 1):  # the first round warms up
        order = ["stock", "green"] if index % 2 else ["green", "stock"]
        for which in order:
            if which == "stock":
                questioner = NonInteractiveMigrationQuestioner(
                    specified_apps=set(), dry_run=True, verbosity=0
                )
                elapsed, cpu, counts["stock"] = detect(MigrationAutodetector, questioner)
            else:
                questioner = GreenNonInteractiveQuestioner(
                    specified_apps=set(), dry_run=True, verbosity=0
                )
                elapsed, cpu, counts["green"] = detect(GreenMigrationAutodetector, questioner)
            if index:
                times[which].append(elapsed)
                cpu_times[which].append(cpu)
        start, start_cpu = time.perf_counter(), time.process_time()
        graph_stages(loader.graph)
        if index:
            times["graph_stages"].append(time.perf_counter() - start)
            cpu_times["graph_stages"].append(time.process_time() - start_cpu)
    result = {
        "times": times,
        "cpu": cpu_times,
        "migrations": counts,
        "load_graph": load_time,
        "django": django.get_version(),
        "python": platform.python_version(),
    }
    print(json.dumps(result))


def run_inprocess(python: str, project: Path, repeat: int) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [python, __file__, INPROCESS, str(project), str(repeat)],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"in-process benchmark failed:\n{result.stdout}\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


# -- report -------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: stock and our timings of one measurement.

    The lists hold one figure per round; a round runs stock and ours one after
    the other, so ``stock[i]`` and ``ours[i]`` are a pair.
    """

    measurement: str
    stock: list[float] | None
    ours: list[float]
    stock_cpu: list[float] | None = None
    ours_cpu: list[float] | None = None
    kind: str = "process"  # "process", "in-process" or "info"

    def ratio(self, statistic: Callable[[list[float]], float]) -> float:
        """Return statistic(ours) / statistic(stock), in wall-clock time."""
        assert self.stock
        return statistic(self.ours) / statistic(self.stock)

    @property
    def cpu_ratio(self) -> float | None:
        """Return the median of the per-round ratios of CPU time, ours / stock.

        CPU time (user + system) is far less disturbed than wall clock by other
        processes competing for the cores; pairing runs of the same round
        cancels slow drift; the median ignores the odd disturbed round.
        """
        if not self.stock_cpu or not self.ours_cpu:
            return None
        return statistics.median(o / s for o, s in zip(self.ours_cpu, self.stock_cpu, strict=True))

    @property
    def verdict(self) -> str:
        """Return "ok" when ours is within the target by the paired CPU-time ratio."""
        if not self.stock or self.kind == "info":
            return "(info)"
        ratio = self.cpu_ratio if self.cpu_ratio is not None else self.ratio(min)
        return "ok" if ratio <= TARGET else "SLOWER"

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "measurement": self.measurement.strip(),
            "kind": self.kind,
            "stock": _stats(self.stock, self.stock_cpu) if self.stock else None,
            "ours": _stats(self.ours, self.ours_cpu),
            "verdict": self.verdict,
        }
        if self.stock:
            result["ratio_wall_median"] = self.ratio(statistics.median)
            result["ratio_wall_best"] = self.ratio(min)
            result["ratio_cpu_paired_median"] = self.cpu_ratio
        return result


def _stats(times: list[float], cpu: list[float] | None) -> dict[str, Any]:
    result: dict[str, Any] = {"best": min(times), "median": statistics.median(times), "runs": times}
    if cpu:
        result["cpu_median"] = statistics.median(cpu)
        result["cpu_runs"] = cpu
    return result


def format_table(rows: list[Row]) -> str:
    """Return the results as a text table."""
    lines = [
        f"{'measurement':<50} {'stock s':>14} {'ours s':>14} {'wall ratio':>11} "
        f"{'cpu ratio':>9}  <= +10%",
    ]
    lines.append("-" * (len(lines[0]) + 8))
    for row in rows:
        digits = 3 if row.kind != "in-process" and min(row.ours) > 0.05 else 4
        ours = f"{statistics.median(row.ours):.{digits}f}/{min(row.ours):.{digits}f}"
        stock = ratio = cpu = "-"
        if row.stock:
            stock = f"{statistics.median(row.stock):.{digits}f}/{min(row.stock):.{digits}f}"
            ratio = f"{row.ratio(statistics.median):.2f}/{row.ratio(min):.2f}"
            if row.cpu_ratio is not None:
                cpu = f"{row.cpu_ratio:.2f}"
        lines.append(
            f"{row.measurement:<50} {stock:>14} {ours:>14} {ratio:>11} {cpu:>9}  {row.verdict}"
        )
    lines.append(
        "seconds: median/best wall clock. wall ratio: ours/stock, median/best. cpu ratio: "
        "median over rounds of ours/stock CPU time (user+sys), which the verdict uses."
    )
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=300, help="models in the project")
    parser.add_argument("--apps", type=int, default=10, help="apps the models are spread over")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "mysql"], default="sqlite")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this path")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the generated project")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the projects")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    parser.add_argument(
        "--profile",
        type=Path,
        help="also write a cProfile file of each command (stock and ours) to this directory",
    )
    options = parser.parse_args()
    began = time.perf_counter()
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="green_bench_"))
    try:
        with database(options.backend, workdir) as db:
            rows, setup = benchmark(options, workdir, db)
    finally:
        if options.keep:
            print(f"Project kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - began
    load = (load_before[0], os.getloadavg()[0])
    print()
    print(
        f"{options.backend}, {options.models} models, Django {setup['django']}, "
        f"Python {setup['python']}, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f} -> {load[1]:.1f}, {options.repeat} runs, {time.strftime('%Y-%m-%d')}"
    )
    print(format_table(rows))
    print(f"total {total:.0f}s")
    if options.json:
        options.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%d"),
                    "backend": options.backend,
                    "models": options.models,
                    "apps": options.apps,
                    "repeat": options.repeat,
                    "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                    "load_average": load,
                    "setup": setup,
                    "total_seconds": total,
                    "rows": [row.as_dict() for row in rows],
                },
                indent=2,
            )
            + "\n"
        )
        print(f"results written to {options.json}")


def benchmark(
    options: argparse.Namespace, workdir: Path, db: dict[str, Any]
) -> tuple[list[Row], dict[str, Any]]:
    python = options.python
    specs = generate_models(options.models, options.apps, options.seed)
    release = plan_release(specs, options.seed)
    apps = sorted({m.app for m in specs})
    n_fields = sum(len(m.fields) for m in specs)
    print(
        f"Project: {len(specs)} models, {n_fields} fields, {len(apps)} apps "
        f"({options.backend}). Release N+1: fields removed from {len(release.removed)} models "
        f"{dict(sorted(release.removed_kinds.items()))}, {len(release.deleted)} models "
        f"deleted, nullable fields added to {len(release.added)} models.",
        flush=True,
    )
    # n: release N with its migrations. n1: release N+1's models, release N's
    # migrations. n1m: release N+1 with its migrations written.
    n, n1, n1m = workdir / "n", workdir / "n1", workdir / "n1m"
    write_project(n, apps, specs, None, db)
    print("Setting up:", flush=True)
    checked_run(python, n, "green", ["makemigrations", "--noinput"])
    for project in (n1, n1m):
        write_project(project, apps, specs, release, db)
        copy_migrations(n, project, apps)
    written = checked_run(python, n1m, "green", ["makemigrations", "--noinput"])
    # The database at release N: contrib apps migrated for real, the project's
    # apps faked (--plan and showstages read only django_migrations, and
    # applying 300 CreateModels costs a minute of Django's state rendering).
    for app in ("contenttypes", "auth", "sessions"):
        checked_run(python, n, "stock", ["migrate", app, "--noinput", "-v", "0"])
    checked_run(python, n, "stock", ["migrate", "--fake", "--noinput", "-v", "0"])
    compile_bytecode(python, [n, n1, n1m])
    setup = {
        "removed_fields_by_kind": release.removed_kinds,
        "models_with_removed_fields": len(release.removed),
        "deleted_models": len(release.deleted),
        "models_with_added_fields": len(release.added),
        "release_n1_migrations": written.count(".py\n"),
    }

    mm_dry = ["makemigrations", "--dry-run", "--noinput"]
    plan = ["migrate", "--plan", "--noinput"]
    commands = [
        Command("mm_stock", n1, "stock", mm_dry, expect(contains=("Remove field",))),
        Command("mm_green", n1, "green", mm_dry, expect(contains=("Remove field", "Alter field"))),
        Command(
            "mm_green_stock_flag",
            n1,
            "green",
            [*mm_dry, "--stock"],
            expect(contains=("Remove field",), lacks=("Alter field",)),
        ),
        Command(
            "check_stock",
            n,
            "stock",
            ["makemigrations", "--check", "--noinput"],
            expect(contains=("No changes detected",)),
        ),
        Command(
            "check_green",
            n,
            "green",
            ["makemigrations", "--check", "--noinput"],
            expect(contains=("No changes detected",)),
        ),
        Command("plan_stock", n1m, "stock", plan, expect(contains=("Remove field",))),
        # The same stock command again: stock vs stock shows the noise floor.
        Command("plan_stock_again", n1m, "stock", plan, expect(contains=("Remove field",))),
        Command("plan_green", n1m, "green", plan, expect(contains=("Remove field",))),
        Command(
            "plan_pre",
            n1m,
            "green",
            [*plan, "--stage", "pre-deploy"],
            expect(contains=("Alter field", "Left for the post-deploy stage"), lacks=("Remove",)),
        ),
        Command(
            "plan_post",
            n1m,
            "green",
            [*plan, "--stage", "post-deploy"],
            expect(contains=("Remove field",)),
        ),
        Command(
            "showstages",
            n1m,
            "green",
            ["showstages"],
            expect(contains=("Post-deploy stage", "Remove field")),
        ),
        # Ours without the proof, to show its share of (a).
        Command(
            "mm_green_skip_verify",
            n1,
            "green",
            [*mm_dry, "--skip-verify"],
            expect(contains=("Remove field", "Alter field"), lacks=("VIOLATION",)),
        ),
        Command(
            "verifystages",
            n1m,
            "green",
            ["verifystages"],
            expect(contains=("Proven: every moment",)),
        ),
    ]
    print(f"Timing {len(commands)} commands x {options.repeat} runs (+1 warm-up):", flush=True)
    for round_number in range(options.repeat + 1):
        # Rotate the order each round so that drift hits stock and ours alike.
        shift = round_number % len(commands)
        ordered = commands[shift:] + commands[:shift]
        if round_number % 2:
            ordered.reverse()
        for command in ordered:
            elapsed, cpu, result = run_manage(
                python, command.project, command.settings, command.args
            )
            problem = command.check(result)
            if problem:
                raise SystemExit(f"{command.key}: `manage.py {' '.join(command.args)}`: {problem}")
            if round_number:
                command.times.append(elapsed)
                command.cpu.append(cpu)
        print(f"  round {round_number or 'warm-up'} done", flush=True)
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
        for command in commands:
            path = options.profile / f"{command.key}.prof"
            run_manage(python, command.project, command.settings, command.args, profile=path)
        print(f"cProfile files written to {options.profile}")

    print("Timing the autodetector in-process:", flush=True)
    repeat_inprocess = max(3 * options.repeat, 15)
    changed = run_inprocess(python, n1, repeat_inprocess)
    unchanged = run_inprocess(python, n, repeat_inprocess)
    setup["migrations_in_dry_run"] = {
        "stock": changed["migrations"]["stock"],
        "ours": changed["migrations"]["green"],
    }
    setup["load_graph_seconds"] = changed["load_graph"]
    setup["django"] = changed["django"]
    setup["python"] = changed["python"]

    by_key = {command.key: command for command in commands}

    def pair(label: str, stock: str, ours: str, kind: str = "process") -> Row:
        return Row(
            label,
            by_key[stock].times,
            by_key[ours].times,
            by_key[stock].cpu,
            by_key[ours].cpu,
            kind=kind,
        )

    def inprocess(label: str, data: dict[str, Any]) -> Row:
        return Row(
            label,
            data["times"]["stock"],
            data["times"]["green"],
            data["cpu"]["stock"],
            data["cpu"]["green"],
            kind="in-process",
        )

    showstages = by_key["showstages"]
    verify = by_key["verifystages"]
    rows = [
        pair("(a) makemigrations --dry-run, release N+1", "mm_stock", "mm_green"),
        pair("(b) makemigrations --check, no changes", "check_stock", "check_green"),
        pair("(c) migrate --plan --stage pre-deploy", "plan_stock", "plan_pre"),
        pair("(c) migrate --plan --stage post-deploy", "plan_stock", "plan_post"),
        pair("(c) migrate --plan, no --stage", "plan_stock", "plan_green"),
        pair("    makemigrations --dry-run --stock", "mm_stock", "mm_green_stock_flag", "info"),
        pair("    noise: stock migrate --plan vs itself", "plan_stock", "plan_stock_again", "info"),
        Row("(d) showstages", None, showstages.times, None, showstages.cpu, kind="info"),
        pair(
            "    makemigrations --dry-run --skip-verify (no proof)",
            "mm_stock",
            "mm_green_skip_verify",
            "info",
        ),
        Row(
            "(e) verifystages, release N+1's plan",
            None,
            verify.times,
            None,
            verify.cpu,
            kind="info",
        ),
        inprocess("autodetector.changes(), release N+1 (in-process)", changed),
        inprocess("autodetector.changes(), no changes (in-process)", unchanged),
        Row(
            "    graph_stages(graph), release N (in-process)",
            None,
            unchanged["times"]["graph_stages"],
            kind="info",
        ),
    ]
    return rows, setup


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == INPROCESS:
        inprocess_main(sys.argv[2], int(sys.argv[3]))
    else:
        main()
