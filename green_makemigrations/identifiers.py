"""Names the package generates: fitted to each backend's limit, and quoted.

PostgreSQL keeps the first 63 *bytes* of an identifier and silently drops
the rest; MariaDB/MySQL refuse one longer than 64 *characters*; SQLite has no
limit. Django's ``truncate_name()`` counts characters, so a multibyte name it
passes as short enough may be cut by PostgreSQL, after which a lookup under
the full name finds nothing. The helpers here count in the backend's unit,
shorten a name that does not fit with a stable hash (as ``truncate_name()``
does), and give the name a database stores for one it is sent.

Django's ``quote_name()`` does not double a quote character inside a name
(``"`` on PostgreSQL and SQLite, a backtick on MariaDB/MySQL), so such a name
breaks Django's own statements: the package quotes with :func:`quote`, which
does, but a schema change whose names hold the backend's quote character
cannot run on that backend at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.backends.utils import names_digest

from .backends import get_backend

# The strictest limit a name written into a migration file may meet: 63 bytes
# (PostgreSQL) is also within 64 characters (MariaDB/MySQL).
PORTABLE_MAX_BYTES = 63
DIGEST_LENGTH = 8


def clip(name: str, max_bytes: int) -> str:
    """Return the longest start of name that is at most max_bytes in UTF-8.

    A character is never cut in two: this is what PostgreSQL stores of a
    longer name.
    """
    return name.encode()[:max_bytes].decode(errors="ignore")


def _size(name: str, unit: str) -> int:
    return len(name.encode()) if unit == "bytes" else len(name)


def fit(
    name: str, suffix: str = "", *, limit: int = PORTABLE_MAX_BYTES, unit: str = "bytes"
) -> str:
    """Return name + suffix, shortened with a stable hash if it exceeds limit.

    ``unit`` is ``"bytes"`` (UTF-8, as PostgreSQL counts) or ``"chars"``.
    A name that fits is returned unchanged; otherwise the end of name is cut
    and replaced by ``_`` and a hash of the whole name, so that two long
    names with the same start stay distinct, and suffix is kept whole.
    """
    whole = name + suffix
    if _size(whole, unit) <= limit:
        return whole
    tail = f"_{names_digest(whole, length=DIGEST_LENGTH)}{suffix}"
    room = limit - _size(tail, unit)
    if room < 0:
        raise ValueError(f"The suffix {suffix!r} leaves no room for a name within {limit} {unit}.")
    head = clip(name, room) if unit == "bytes" else name[:room]
    return head + tail


def fit_unique(name: str, suffix: str, taken: set[str], *, limit: int = PORTABLE_MAX_BYTES) -> str:
    """Return fit(name, suffix), made different from every name in taken.

    Names are compared case-insensitively: MariaDB/MySQL compare column
    names that way.
    """
    lowered = {other.lower() for other in taken}
    candidate, attempt = fit(name, suffix, limit=limit), 0
    while candidate.lower() in lowered:
        attempt += 1
        candidate = fit(f"{name}_{attempt}", suffix, limit=limit)
    return candidate


def limit_of(connection: Any) -> tuple[int | None, str]:
    """Return the identifier limit of connection's backend and its unit."""
    return get_backend(connection).identifier_limit(connection)


def fit_for(connection: Any, name: str, suffix: str = "") -> str:
    """Return fit(name, suffix) within the limit of connection's backend."""
    limit, unit = limit_of(connection)
    if limit is None:
        return name + suffix
    return fit(name, suffix, limit=limit, unit=unit)


def stored(connection: Any, name: str) -> str:
    """Return the name the database stores for an identifier sent as name.

    PostgreSQL truncates a name to 63 bytes; the other backends keep it (or
    refuse it).
    """
    return get_backend(connection).stored_name(name)


def quote(connection: Any, name: str) -> str:
    """Return name quoted as an identifier, any quote character inside doubled."""
    return get_backend(connection).quote_name(name)


def quoter(schema_editor: Any) -> Any:
    """Return a function quoting identifiers for schema_editor's connection."""
    connection = schema_editor.connection
    return lambda name: quote(connection, str(name))


def dollar_quote(body: str, tag: str = "green") -> str:
    """Return body as a PostgreSQL dollar-quoted string whose tag does not occur in it."""
    candidate, attempt = tag, 0
    # The string ends at the first ``$tag$`` after the opening one, which may
    # start inside the body (a body ending in ``$green``).
    while (body + f"${candidate}$").find(f"${candidate}$") != len(body):
        attempt += 1
        candidate = f"{tag}{attempt}"
    return f"${candidate}${body}${candidate}$"


class StoredNames(set[str]):
    """Names as the database stored them, in which a name is found as it was sent.

    ``name in names`` looks for the name the database stores for name, so a
    long name PostgreSQL cut is found under the full name Django sends.
    """

    def __init__(self, connection: Any, names: Iterable[str] = ()) -> None:
        super().__init__(names)
        self.connection = connection

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(stored(self.connection, name))


class StoredKinds(dict[str, str]):
    """Tables' and views' kinds by the names the database stored, found by the names sent."""

    def __init__(self, connection: Any, kinds: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(kinds)
        self.connection = connection

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(stored(self.connection, name))

    def get(self, name: str, default: Any = None) -> Any:
        """Return the kind of the table or view sent as name, or default."""
        return super().get(stored(self.connection, name), default)
