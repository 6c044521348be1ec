"""Representative subsets of the slowest test matrices, for the Django versions tested second.

``./runtests`` sets ``GREEN_REPRESENTATIVE=1`` for every Django version but
the lint's (Django 5.2), as it has the fuzzer replay 20 of its cases there:
the lint's version runs each matrix whole on every backend, the others the
cases each module names as representative. Unset, everything runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def representative() -> bool:
    """Return whether only the representative cases run."""
    return os.environ.get("GREEN_REPRESENTATIVE") == "1"


def chosen(items: Iterable[T], keep: Callable[[T], bool]) -> list[T]:
    """Return items, or only those keep() names representative when only those run."""
    return [item for item in items if not representative() or keep(item)]
