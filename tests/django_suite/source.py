"""Fetch the test suite of the installed Django from its source distribution.

The Django sources are not committed: the sdist matching the installed
version is downloaded once with pip and its ``tests/`` directory unpacked
into a cache shared by every virtualenv of the matrix (one directory per
Django version), so reruns cost nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django


def cache_root() -> Path:
    """Return the cache directory ($GREEN_DJANGO_SRC_CACHE, else the user cache)."""
    configured = os.environ.get("GREEN_DJANGO_SRC_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "green_makemigrations" / "django-src"


def download_sdist(version: str, directory: Path) -> Path:
    """Return the path of Django's sdist for version, downloading it if needed."""
    directory.mkdir(parents=True, exist_ok=True)
    for candidate in (f"django-{version}.tar.gz", f"Django-{version}.tar.gz"):
        if (directory / candidate).is_file():
            return directory / candidate
    # Download into a private directory first: parallel runs of the matrix
    # share the cache and must never see a half-written archive.
    with tempfile.TemporaryDirectory(dir=directory) as download_dir:
        pip = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"django=={version}",
                "-d",
                download_dir,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if pip.returncode:
            raise RuntimeError(f"pip could not download Django {version}'s sdist:\n{pip.stdout}")
        (archive,) = Path(download_dir).glob("*.tar.gz")
        target = directory / archive.name
        os.replace(archive, target)
    return target


def django_tests_dir(version: str | None = None) -> Path:
    """Return Django's ``tests/`` directory for version (default: the installed one).

    $GREEN_DJANGO_TESTS_DIR names an already unpacked ``tests/`` directory
    instead (e.g. a Django checkout); it must match the installed Django.
    """
    configured = os.environ.get("GREEN_DJANGO_TESTS_DIR")
    if configured:
        return Path(configured)
    version = version or django.__version__
    root = cache_root()
    tests_dir = root / f"django-{version}" / "tests"
    if (tests_dir / "runtests.py").is_file():
        return tests_dir
    archive = download_sdist(version, root / "sdist")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as unpack_dir, tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        tar.extractall(unpack_dir, members=members, filter="data")
        (unpacked,) = Path(unpack_dir).glob("*/tests")
        tests_dir.parent.mkdir(exist_ok=True)
        try:
            os.rename(unpacked, tests_dir)
        except OSError:
            # Another run unpacked it first.
            if not (tests_dir / "runtests.py").is_file():
                raise
            shutil.rmtree(unpacked, ignore_errors=True)
    return tests_dir
