"""The one place that replaces a name Django gives no hook for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def swap_attribute(owner: Any, name: str, value: Any) -> Iterator[None]:
    """Set ``owner.name`` to value for the duration of the block, then restore it.

    Used on Django's command modules, whose ``handle()`` instantiates module
    level names (``MigrationExecutor``, ``MigrationWriter``, the questioners)
    directly. The previous value comes back even if the block raises.
    """
    previous = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, previous)
