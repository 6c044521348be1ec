"""Shared matrices: the slowest test matrices split between the Django versions of a run.

``./runtests``, when it runs all three Django versions, sets
``GREEN_SHARE=k/3`` for the k-th of them (0 for Django 5.2): a shared matrix
runs its every third case from the k-th on, plus the cases its module names
representative, so that each case runs on every backend under one Django
version and the representative ones under all three. Unset (one Django
version, or a plain pytest run), everything runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest

T = TypeVar("T")


def share() -> tuple[int, int] | None:
    """Return (k, n) from GREEN_SHARE="k/n", or None when every case runs."""
    value = os.environ.get("GREEN_SHARE", "")
    if not value:
        return None
    k, _slash, n = value.partition("/")
    if not (k.isdigit() and n.isdigit() and int(k) < int(n)):
        raise ValueError(f"GREEN_SHARE must be k/n with 0 <= k < n, not {value!r}")
    return int(k), int(n)


def chosen(items: Iterable[T], keep: Callable[[T], bool]) -> list[T]:
    """Return this run's share of items: every n-th from the k-th, and those keep() names."""
    shared = share()
    if shared is None:
        return list(items)
    k, n = shared
    return [item for index, item in enumerate(items) if index % n == k or keep(item)]


def deselect(
    config: pytest.Config, items: list[pytest.Item], drop: Callable[[pytest.Item], bool]
) -> None:
    """Deselect the collected items drop() names, as ``-k`` would (reported, not skipped)."""
    dropped = [item for item in items if drop(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]
