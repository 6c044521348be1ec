"""The one place that replaces a name Django gives no hook for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_MISSING = object()


@contextmanager
def swap_attribute(
    owner: Any, name: str, value: Any, *, missing_ok: bool = False
) -> Iterator[None]:
    """Set ``owner.name`` to value for the duration of the block, then restore it.

    Used on Django's command modules, whose ``handle()`` instantiates module
    level names (``MigrationExecutor``, ``MigrationWriter``, the questioners)
    directly. The previous value comes back even if the block raises.
    ``missing_ok`` allows a name owner does not have (a module global that
    shadows a builtin, such as ``input``): it is deleted again afterwards.
    """
    previous = getattr(owner, name, _MISSING) if missing_ok else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if previous is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, previous)
