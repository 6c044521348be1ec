#!/usr/bin/env python
"""Rehearse a rolling deploy of the example shop, with green_makemigrations and without.

Release 1 of the shop serves HTTP traffic; release 2 removes two fields of
Product. The rehearsal plays a rolling deploy: the pre-deploy migrations,
release 2 starting beside release 1, release 1 going away, the post-deploy
migrations. It counts the requests each release answered and failed in each
phase, then plays the same deploy twice with Django's stock makemigrations
and migrate: migrating before the new code rolls out, and after.

Run it with ``./demo`` from the repository root (it builds the virtualenv);
this script expects Django and green_makemigrations to be importable by the
Python running it. Every server listens on 127.0.0.1 only and is stopped at the end.
Exit status 0 means the green_makemigrations rehearsal had no failed request.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
RELEASE2_FILES = HERE / "release2"
# Not part of a release's tree.
NOT_COPIED = {"release2", "demo.py", "README.rst", ".gitignore", "__pycache__"}

PHASE_SECONDS = 1.5  # traffic in each phase, after its actions
QUICK_PHASE_SECONDS = 0.3  # with --quick
REQUEST_TIMEOUT = 5.0
REQUEST_PAUSE = 0.01  # between two requests of one client
MAX_REQUESTS_PER_CLIENT = 5000
SERVER_START_TIMEOUT = 20.0
SERVER_STOP_TIMEOUT = 5.0
COMMAND_TIMEOUT = 120.0

DEFAULT_URLS = {
    "postgresql": ("DEMO_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/green_demo"),
    "mysql": ("DEMO_MYSQL_URL", "mysql://root@127.0.0.1:3306/green_demo"),
}


def say(text: str = "") -> None:
    """Print a line at once (the demo is watched while it runs)."""
    print(text, flush=True)


def indent(text: str, prefix: str = "    ") -> str:
    """Return text indented, without its trailing blank lines."""
    return textwrap.indent(text.rstrip(), prefix)


# -- databases ------------------------------------------------------------


@dataclass
class Database:
    """A database the rehearsal creates, hands to every process, and drops."""

    vendor: str
    url: str

    @property
    def name(self) -> str:
        return unquote(urlsplit(self.url).path.lstrip("/"))

    def _execute(self, *statements: str) -> None:
        """Run statements on the database server, outside this database."""
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        user = unquote(parts.username or "")
        password = unquote(parts.password or "")
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(
                host=host,
                port=parts.port or 5432,
                user=user,
                password=password,
                dbname="postgres",
                autocommit=True,
            ) as connection:
                for statement in statements:
                    connection.execute(statement)
        else:
            import MySQLdb

            connection = MySQLdb.connect(
                host=host, port=parts.port or 3306, user=user, password=password
            )
            try:
                cursor = connection.cursor()
                for statement in statements:
                    cursor.execute(statement)
            finally:
                connection.close()

    def create(self) -> None:
        """Create the database, replacing what a previous interrupted demo left."""
        if self.vendor == "sqlite":
            return
        if self.vendor == "postgresql":
            quoted = f'"{self.name}"'
            self._execute(
                f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)", f"CREATE DATABASE {quoted}"
            )
        else:
            quoted = f"`{self.name}`"
            self._execute(
                f"DROP DATABASE IF EXISTS {quoted}",
                f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            )

    def drop(self) -> None:
        """Drop the database (a SQLite file goes with the temporary directory)."""
        if self.vendor == "postgresql":
            self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        elif self.vendor == "mysql":
            self._execute(f"DROP DATABASE IF EXISTS `{self.name}`")


def database_for(vendor: str, workdir: Path, suffix: str) -> Database:
    """Return the database of one rehearsal: a file, or a database on the local server."""
    if vendor == "sqlite":
        return Database(vendor, f"sqlite:///{workdir / f'shop{suffix}.sqlite3'}")
    variable, default = DEFAULT_URLS[vendor]
    parts = urlsplit(os.environ.get(variable) or default)
    return Database(vendor, parts._replace(path=parts.path + suffix).geturl())


# -- release trees and commands ---------------------------------------------


def copy_release(release: int, destination: Path, migrations_from: Path | None = None) -> Path:
    """Copy the project as release 1 or 2 into destination; return destination.

    Migration files are never copied from this directory: release 1 starts
    without any, and release 2 gets those release 1 generated.
    """

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = {name for name in names if name in NOT_COPIED or name.endswith(".sqlite3")}
        if Path(directory).name == "migrations":
            ignored |= {name for name in names if name[:1].isdigit()}
        return ignored

    shutil.copytree(HERE, destination, ignore=ignore)
    if release == 2:
        shutil.copytree(RELEASE2_FILES, destination, ignore=ignore, dirs_exist_ok=True)
    if migrations_from is not None:
        for path in sorted((migrations_from / "shop" / "migrations").glob("[0-9]*.py")):
            shutil.copy2(path, destination / "shop" / "migrations" / path.name)
    return destination


def migration_files(tree: Path) -> list[Path]:
    """Return the migration files of the shop app in a release tree."""
    return sorted((tree / "shop" / "migrations").glob("[0-9]*.py"))


def process_env(database: Database) -> dict[str, str]:
    """Return the environment of the shop's processes."""
    env = dict(os.environ)
    env.update(
        DEMO_DATABASE_URL=database.url,
        DJANGO_SETTINGS_MODULE="shopsite.settings",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def manage(tree: Path, database: Database, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run ``manage.py args`` in a release tree; return its output, raise if it fails.

    ok are the exit statuses that are not a failure (verifystages exits 1
    when it finds a problem).
    """
    command = [sys.executable, "manage.py", *args]
    result = subprocess.run(
        command,
        cwd=tree,
        env=process_env(database),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    output = (result.stdout + result.stderr).rstrip()
    if result.returncode not in ok:
        raise RuntimeError(
            f"`manage.py {' '.join(args)}` failed in {tree.name} "
            f"(exit {result.returncode}):\n{indent(output)}"
        )
    return output


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``manage.py runserver`` of one release, in its own process group."""

    def __init__(self, release: int, tree: Path, database: Database, log_dir: Path) -> None:
        self.release = release
        self.tree = tree
        self.database = database
        self.log_path = log_dir / f"release{release}-server.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        """Start serving and wait until the port accepts connections."""
        self.port = free_port()
        command = [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{self.port}",
            "--noreload",
            "--skip-checks",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.tree,
                env=process_env(self.database),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as a whole
            )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        log_tail = self.log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"release {self.release} did not start serving:\n{indent(log_tail)}")

    def stop(self) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=SERVER_STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                continue


# -- traffic --------------------------------------------------------------

# Straight to 127.0.0.1, whatever proxy the environment names.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(port: int, release: int, body: dict[str, object] | None = None) -> str | None:
    """Create a product (with a body) or list products; return None or what went wrong."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/products/",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with OPENER.open(request, timeout=REQUEST_TIMEOUT) as response:
            payload = json.load(response)
    except urllib.error.HTTPError as error:
        try:
            return str(json.load(error).get("error") or f"HTTP {error.code}")
        except ValueError:
            return f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return str(error)
    if payload.get("release") != release:
        return f"answered by release {payload.get('release')}"
    return None


@dataclass
class Tally:
    """Requests of one release in one phase."""

    ok: int = 0
    failed: int = 0
    first_errors: dict[str, str] = field(default_factory=dict)  # action -> message


@dataclass
class Traffic:
    """HTTP clients, one per serving release, counting results by phase."""

    phase: int = 0
    tallies: dict[tuple[int, int], Tally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clients: dict[int, tuple[threading.Thread, threading.Event]] = field(default_factory=dict)

    def start(self, server: Server) -> None:
        """Start sending requests to a server: create a product, list products, repeat."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self._client, args=(server.release, server.port, stop), daemon=True
        )
        self._clients[server.release] = (thread, stop)
        thread.start()

    def stop(self, release: int) -> None:
        """Stop the client of a release (the load balancer takes it out)."""
        client = self._clients.pop(release, None)
        if client is not None:
            thread, stop = client
            stop.set()
            thread.join(REQUEST_TIMEOUT + 1)

    def stop_all(self) -> None:
        for release in list(self._clients):
            self.stop(release)

    def _client(self, release: int, port: int, stop: threading.Event) -> None:
        for number in range(MAX_REQUESTS_PER_CLIENT):
            if stop.is_set():
                return
            phase = self.phase
            if number % 2 == 0:
                action = "create"
                body: dict[str, object] = {"name": f"r{release}-{number}"}
                if release == 1:
                    body.update(legacy_code=f"L{number}", price_cents=number)
                error = call(port, release, body)
            else:
                action = "list"
                error = call(port, release)
            with self._lock:
                tally = self.tallies.setdefault((phase, release), Tally())
                if error is None:
                    tally.ok += 1
                else:
                    tally.failed += 1
                    tally.first_errors.setdefault(action, error.strip().splitlines()[0])
            stop.wait(REQUEST_PAUSE)

    def failures(self) -> int:
        return sum(tally.failed for tally in self.tallies.values())

    def requests(self) -> int:
        return sum(tally.ok + tally.failed for tally in self.tallies.values())


# -- the rehearsal ----------------------------------------------------------

GREEN = "green"
MIGRATE_FIRST = "migrate-first"  # stock Django, migrate before the new code rolls out
CODE_FIRST = "code-first"  # stock Django, migrate once the new code is out


@dataclass
class Rehearsal:
    """One rolling deploy of release 2 over release 1, under traffic."""

    title: str
    mode: str
    database: Database
    workdir: Path
    traffic: Traffic = field(default_factory=Traffic)
    labels: list[str] = field(default_factory=list)
    servers: dict[int, Server] = field(default_factory=dict)
    trees: dict[int, Path] = field(default_factory=dict)
    show_migrations: bool = True  # print the migration files release 2 generates
    phase_seconds: float = PHASE_SECONDS

    @property
    def stock(self) -> bool:
        return self.mode != GREEN

    def run(self) -> None:
        """Prepare both releases, then deploy release 2 under traffic."""
        say(f"\n{'=' * 78}\n{self.title}\n{'=' * 78}")
        self.database.create()
        try:
            self.prepare()
            try:
                self.deploy()
            finally:
                self.traffic.stop_all()
                for server in self.servers.values():
                    server.stop()
        finally:
            self.database.drop()

    def prepare(self) -> None:
        """Build release 1 and its database, then release 2 and its migrations."""
        release1 = self.trees[1] = copy_release(1, self.workdir / "release1")
        say("Release 1: makemigrations, migrate, seed 20 products")
        self.makemigrations(release1)
        manage(release1, self.database, "migrate", "--noinput")
        manage(
            release1,
            self.database,
            "shell",
            "-c",
            "from shop.models import Product; Product.objects.bulk_create("
            "Product(name=f'seed {n}', legacy_code=f'S{n}', price_cents=100 * n) "
            "for n in range(1, 21))",
        )
        release2 = self.trees[2] = copy_release(
            2, self.workdir / "release2", migrations_from=release1
        )
        before = set(migration_files(release2))
        command = "makemigrations --stock" if self.stock else "makemigrations"
        say(f"Release 2 (legacy_code and price_cents removed): {command}")
        say(indent(self.makemigrations(release2)))
        for path in migration_files(release2):
            if path not in before and self.show_migrations:
                say(f"\n  --- shop/migrations/{path.name}")
                say(indent(path.read_text()))
        if self.show_migrations:
            # The proof, before the deploy: what each moment of it does to each release.
            say("\nverifystages (before the deploy):")
            say(indent(manage(release2, self.database, "verifystages", ok=(0, 1))))
        say()

    def deploy(self) -> None:
        """Play the deploy, one phase at a time, with traffic to every serving release."""
        self.phase("release 1 serving", lambda: self.serve(1))
        if self.mode == GREEN:
            self.phase("migrate --stage pre-deploy", lambda: self.migrate("pre-deploy"))
            self.phase("release 2 starts beside release 1", lambda: self.serve(2))
            self.phase(
                "release 1 stopped; migrate --stage post-deploy",
                lambda: self.retire(1),
                lambda: self.migrate("post-deploy"),
            )
        elif self.mode == MIGRATE_FIRST:
            self.phase("migrate (Django's, all of it)", lambda: self.migrate())
            self.phase("release 2 starts beside release 1", lambda: self.serve(2))
            self.phase("release 1 stopped", lambda: self.retire(1))
        else:
            self.phase("release 2 starts beside release 1", lambda: self.serve(2))
            self.phase(
                "release 1 stopped; migrate (Django's)",
                lambda: self.retire(1),
                lambda: self.migrate(),
            )
        self.phase("release 2 serving alone")

    def phase(self, label: str, *actions: Callable[[], object]) -> None:
        """Start a phase: run its actions while traffic flows, then let traffic flow on."""
        self.labels.append(label)
        self.traffic.phase = len(self.labels)
        say(f"[{len(self.labels)}] {label}")
        for action in actions:
            action()
        time.sleep(self.phase_seconds)

    def serve(self, release: int) -> None:
        server = Server(release, self.trees[release], self.database, self.workdir).start()
        self.servers[release] = server
        self.traffic.start(server)

    def retire(self, release: int) -> None:
        """Take a release out of traffic, then stop its server."""
        self.traffic.stop(release)
        self.servers.pop(release).stop()

    def makemigrations(self, tree: Path) -> str:
        args = ["makemigrations", "shop", "--noinput"]
        return manage(tree, self.database, *(args + ["--stock"] if self.stock else args))

    def migrate(self, stage: str | None = None) -> None:
        """Run migrate from release 2's tree (the release that ships the migrations)."""
        args = ["migrate", "--noinput"] + (["--stage", stage] if stage else [])
        say(indent(manage(self.trees[2], self.database, *args)))

    def table(self, width: int) -> str:
        """Return the per-phase table of requests answered and failed."""
        lines = [
            f"{'phase':<{width}}{'release 1':>16}{'release 2':>16}",
            f"{'':<{width}}{'ok / failed':>16}{'ok / failed':>16}",
            "-" * (width + 32),
        ]
        errors: dict[tuple[int, str, str], str] = {}  # first time each failure was seen
        for number, label in enumerate(self.labels, start=1):
            cells = []
            for release in (1, 2):
                tally = self.traffic.tallies.get((number, release))
                cells.append(f"{tally.ok:>5} / {tally.failed:<4}" if tally else "  -" + " " * 6)
                for action, error in tally.first_errors.items() if tally else ():
                    errors.setdefault(
                        (release, action, error), f"  phase {number}, release {release}, {action}"
                    )
            lines.append(f"{f'{number}. {label}':<{width}}{cells[0]:>16}{cells[1]:>16}".rstrip())
        if errors:
            lines += ["", "Failures (where each was first seen):"]
            lines += [f"{where}: {error}" for (_r, _a, error), where in errors.items()]
        return "\n".join(lines)


def package_location() -> str:
    """Return which green_makemigrations the release trees import: version and directory."""
    spec = importlib.util.find_spec("green_makemigrations")
    if spec is None or spec.origin is None:
        raise SystemExit(f"green_makemigrations is not importable by {sys.executable}")
    try:
        version = importlib.metadata.version("django-green-makemigrations")
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed)"
    return f"{version} from {Path(spec.origin).parent}"


@contextmanager
def working_directory(keep: bool) -> Iterator[Path]:
    """Yield a temporary directory for the release trees, SQLite files and logs."""
    path = Path(tempfile.mkdtemp(prefix="green_demo_"))
    try:
        yield path
    finally:
        if keep:
            say(f"\nRelease trees and server logs kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    """Run the rehearsals, print their tables; exit 0 if green_makemigrations had no failure."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql", "mysql"],
        default="sqlite",
        help="sqlite (a temporary file, the default), or a database the demo creates "
        "and drops on the local PostgreSQL or MariaDB/MySQL service (server and name "
        "from DEMO_POSTGRES_URL / DEMO_MYSQL_URL; default name green_demo).",
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the release trees and server logs."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Let traffic flow {QUICK_PHASE_SECONDS} s after each phase's actions instead "
        f"of {PHASE_SECONDS} s: every phase is kept, with fewer requests (the test command "
        "runs the demo so).",
    )
    options = parser.parse_args()
    # On SIGTERM, unwind like on Ctrl-C: the finally blocks stop the servers.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))

    # The release trees import the same one: they are copies of this directory, without it.
    say(f"green_makemigrations {package_location()}")
    phase_seconds = QUICK_PHASE_SECONDS if options.quick else PHASE_SECONDS
    started = time.monotonic()
    with working_directory(options.keep) as workdir:
        rehearsals = [
            Rehearsal(
                "Rolling deploy with green_makemigrations",
                GREEN,
                database_for(options.database, workdir, ""),
                workdir / "green",
                phase_seconds=phase_seconds,
            ),
            Rehearsal(
                "Django's stock migrations, migrate before the rollout",
                MIGRATE_FIRST,
                database_for(options.database, workdir, "_stock1"),
                workdir / "stock1",
                phase_seconds=phase_seconds,
            ),
            Rehearsal(
                "Django's stock migrations, migrate after the rollout",
                CODE_FIRST,
                database_for(options.database, workdir, "_stock2"),
                workdir / "stock2",
                show_migrations=False,  # the same file as the previous rehearsal's
                phase_seconds=phase_seconds,
            ),
        ]
        try:
            for rehearsal in rehearsals:
                rehearsal.run()
        except RuntimeError as error:
            say(f"\nThe demo stopped: {error}")
            return 2

    say(f"\n{'=' * 78}\nResults ({options.database}, {time.monotonic() - started:.0f} s)")
    width = max(len(label) for r in rehearsals for label in r.labels) + 5
    for rehearsal in rehearsals:
        say(f"\n{rehearsal.title}:\n{indent(rehearsal.table(width), '  ')}")
    say()
    for rehearsal in rehearsals:
        say(
            f"{rehearsal.title}: {rehearsal.traffic.failures()} failed requests "
            f"out of {rehearsal.traffic.requests()}."
        )
    green = rehearsals[0].traffic
    return 0 if green.failures() == 0 and green.requests() > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
