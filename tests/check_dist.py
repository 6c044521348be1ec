#!/usr/bin/env python
"""Check the built sdist and wheel against the checkout and the tested versions.

    python tests/check_dist.py DIST_DIR --django 5.2 6.0 6.1 --python 3.11 3.12 3.13

./runtests runs it after ``python -m build`` and ``twine check --strict``, with the
Django and Python versions it tests (its ALL_DJANGO and PYTHON_FOR), so that adding a
version to the test matrix without its classifier, or a module the wheel leaves out,
fails the run. Prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import posixpath
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "green_makemigrations"
# Beside the package, what the sdist must carry for its tests, docs and demo (MANIFEST.in).
SDIST_FILES = ["README.rst", "pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in"]
SDIST_FILES += ["runtests", "demo", "docs/conf.py", "tests/settings/sqlite.py"]
SDIST_FILES += ["example_project/demo.py"]
SDIST_IF_PRESENT = ["LICENSE", "CHANGELOG.rst"]
SDIST_TREES = [PACKAGE, "docs", "tests", "example_project", "benchmarks"]  # tracked files
NEVER = (".venvs", "__pycache__", ".git", "docs/_build")
INCLUDE = re.compile(r"^\s*\.\. (?:literal)?include::\s*(\S+)", re.MULTILINE)


def package_files() -> set[str]:
    """Return the package's files in the checkout, as the wheel names them."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def tracked_files() -> list[str]:
    """Return the files git tracks under SDIST_TREES (none outside a git checkout)."""
    if not (ROOT / ".git").exists():
        return []
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--", *SDIST_TREES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # A tracked file deleted in the working tree is not built: not a packaging problem.
    return [name for name in listing.split("\0") if name and (ROOT / name).is_file()]


def report(problems: list[str], what: str, names: set[str], why: str) -> None:
    """Add one problem for names: the first few of them, and how many."""
    if names:
        shown = sorted(names)[:5]
        more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
        problems.append(f"{what} {', '.join(shown)}{more} ({why})")


def check_metadata(
    metadata: Message, djangos: list[str], pythons: list[str], problems: list[str]
) -> None:
    """Check the classifiers and the version specifiers against the tested versions."""
    classifiers = metadata.get_all("Classifier") or []
    for prefix, tested, what in (
        ("Framework :: Django :: ", djangos, "Django"),
        ("Programming Language :: Python :: ", pythons, "Python"),
    ):
        claimed = {c.removeprefix(prefix) for c in classifiers if c.startswith(prefix)}
        claimed = {version for version in claimed if version[:1].isdigit() and "." in version}
        for version in sorted(set(tested) - claimed, key=Version):
            problems.append(
                f"{what} {version} is tested (runtests) but has no classifier "
                f"'{prefix}{version}' in setup.cfg"
            )
        for version in sorted(claimed - set(tested), key=Version):
            problems.append(
                f"classifier '{prefix}{version}' in setup.cfg claims a {what} version "
                f"runtests does not test"
            )
    try:
        from trove_classifiers import classifiers as known
        from trove_classifiers import deprecated_classifiers
    except ImportError:
        problems.append("trove-classifiers is not installed (the 'package' extra)")
    else:
        for classifier in classifiers:
            if classifier in deprecated_classifiers:
                problems.append(f"classifier '{classifier}' is deprecated")
            elif classifier not in known:
                problems.append(f"classifier '{classifier}' is not a trove classifier")
    requires_python = SpecifierSet(metadata.get("Requires-Python") or "")
    for version in pythons:
        if version not in requires_python:
            problems.append(f"python_requires '{requires_python}' excludes tested Python {version}")
    django = [
        Requirement(line)
        for line in metadata.get_all("Requires-Dist") or []
        if Requirement(line).name.lower() == "django" and not Requirement(line).marker
    ]
    if len(django) != 1:
        problems.append(f"expected one Django requirement, found {[str(r) for r in django]}")
    else:
        for version in djangos:
            if not django[0].specifier.contains(version, prereleases=True):
                problems.append(f"install_requires '{django[0]}' excludes tested Django {version}")
    if "Typing :: Typed" not in classifiers:
        problems.append("classifier 'Typing :: Typed' is missing (the package ships py.typed)")


def check_wheel(path: Path, djangos: list[str], pythons: list[str], problems: list[str]) -> None:
    """Check the wheel's files and metadata."""
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(wheel.read(metadata_name).decode())
    packaged = {name for name in names if name.startswith(f"{PACKAGE}/")}
    report(
        problems,
        f"{path.name} lacks",
        package_files() - packaged,
        "setup.cfg packages or package_data",
    )
    report(problems, f"{path.name} has", packaged - package_files(), "not in the checkout")
    if f"{PACKAGE}/py.typed" not in packaged:
        problems.append(f"{path.name} lacks {PACKAGE}/py.typed (PEP 561)")
    check_metadata(metadata, djangos, pythons, problems)


def check_sdist(path: Path, problems: list[str]) -> None:
    """Check that the sdist has what its tests and docs need, and nothing local."""
    pages: dict[str, str] = {}  # the docs' reStructuredText files: path -> text
    with tarfile.open(path) as sdist:
        # Paths inside the sdist's top directory (name-version/).
        names: set[str] = set()
        for member in sdist.getmembers():
            name = PurePosixPath(*PurePosixPath(member.name).parts[1:]).as_posix()
            names.add(name)
            if name.startswith("docs/") and name.endswith(".rst") and member.isfile():
                file = sdist.extractfile(member)
                pages[name] = file.read().decode() if file else ""
    required = [*SDIST_FILES, f"{PACKAGE}/py.typed", *tracked_files()]
    # What the pages include from outside docs/ (the changelog, the benchmarks' README).
    for page, text in pages.items():
        for target in INCLUDE.findall(text):
            base = "docs" if target.startswith("/") else posixpath.dirname(page)
            required.append(posixpath.normpath(posixpath.join(base, target.lstrip("/"))))
    required += [name for name in SDIST_IF_PRESENT if (ROOT / name).exists()]
    report(problems, f"{path.name} lacks", set(required) - names, "MANIFEST.in")
    local = {
        name
        for name in names
        if name.endswith((".pyc", ".sqlite3"))
        or any(name == never or name.startswith(f"{never}/") for never in NEVER)
        or any(part in NEVER for part in PurePosixPath(name).parts)
    }
    report(problems, f"{path.name} has", local, "local or generated files: MANIFEST.in")


def main() -> int:
    """Check DIST_DIR's sdist and wheel; print the problems; return the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("dist", type=Path, help="the directory python -m build wrote")
    parser.add_argument("--django", nargs="+", required=True, help="the tested Django versions")
    parser.add_argument("--python", nargs="+", required=True, help="the tested Python versions")
    options = parser.parse_args()
    djangos, pythons = sorted(set(options.django)), sorted(set(options.python))
    wheels = sorted(options.dist.glob("*.whl"))
    sdists = sorted(options.dist.glob("*.tar.gz"))
    problems: list[str] = []
    if len(wheels) != 1 or len(sdists) != 1:
        problems.append(
            f"expected one wheel and one sdist in {options.dist}, found "
            f"{[p.name for p in wheels + sdists]}"
        )
    else:
        check_wheel(wheels[0], djangos, pythons, problems)
        check_sdist(sdists[0], problems)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in the sdist and wheel")
        return 1
    print(
        f"sdist and wheel ok: classifiers for Django {' '.join(djangos)} and Python "
        f"{' '.join(pythons)}, py.typed shipped, the package and sdist files complete"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
