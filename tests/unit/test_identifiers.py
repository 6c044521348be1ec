"""Generated names: fitted to each backend's limit, quoted, dollar-quoted.

The properties are checked on generated names (hypothesis); quoting, the
dollar-quote tag and the names PostgreSQL stores are checked against the
database of the settings in use.
"""

from __future__ import annotations

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from green_makemigrations import identifiers

# Letters of one to four bytes in UTF-8, and the characters SQL gives a meaning to.
ALPHABET = st.sampled_from(list("aZ_0 $;'\"`-é数😀"))
NAMES = st.text(ALPHABET, min_size=1, max_size=80)
SUFFIXES = st.sampled_from(["", "_retyped", "_not_null_tmp", "_sync_i"])


@given(
    NAMES, SUFFIXES, st.integers(min_value=30, max_value=64), st.sampled_from(["bytes", "chars"])
)
def test_fit_is_within_the_limit_and_keeps_the_suffix(
    name: str, suffix: str, limit: int, unit: str
) -> None:
    fitted = identifiers.fit(name, suffix, limit=limit, unit=unit)
    size = len(fitted.encode()) if unit == "bytes" else len(fitted)
    assert size <= limit
    assert fitted.endswith(suffix)
    assert fitted == identifiers.fit(name, suffix, limit=limit, unit=unit)  # stable
    if len((name + suffix).encode()) <= limit:
        assert fitted == name + suffix  # a name that fits is left alone


@given(NAMES, NAMES, SUFFIXES)
def test_fit_keeps_distinct_names_distinct(first: str, second: str, suffix: str) -> None:
    """Two names both fitted (or both left alone) stay distinct: the hash is of the whole name."""
    fitted = [len((name + suffix).encode()) > 63 for name in (first, second)]
    if first != second and fitted[0] == fitted[1]:
        assert identifiers.fit(first, suffix) != identifiers.fit(second, suffix)


@given(NAMES, st.sets(NAMES, max_size=5))
def test_fit_unique_avoids_taken_names(name: str, taken: set[str]) -> None:
    taken |= {identifiers.fit(name, "_retyped")}  # the natural choice is taken
    chosen = identifiers.fit_unique(name, "_retyped", taken)
    assert chosen.lower() not in {other.lower() for other in taken}
    assert len(chosen.encode()) <= identifiers.PORTABLE_MAX_BYTES


@given(st.text(ALPHABET, max_size=80), st.integers(min_value=0, max_value=90))
def test_clip_never_cuts_a_character(name: str, limit: int) -> None:
    clipped = identifiers.clip(name, limit)
    assert name.startswith(clipped)
    assert len(clipped.encode()) <= limit
    assert len(name[: len(clipped) + 1].encode()) > limit or clipped == name


@given(st.text(st.sampled_from(list("$gren1 ;'x")), max_size=40))
def test_dollar_quote_tag_does_not_occur_in_the_body(body: str) -> None:
    quoted = identifiers.dollar_quote(body)
    tag = quoted[: quoted.index("$", 1) + 1]
    assert quoted == f"{tag}{body}{tag}"
    assert (body + tag).index(tag) == len(body)  # the body cannot end the string


BODIES = ["", "$green$", "x$green", "$green$ $green1$", "'; DROP TABLE x; --", "$$", "a$"]
ODD = [
    "order",
    "MixedCase",
    "it's",
    'say "hi"',
    "back`tick",
    "with space",
    "semi;colon",
    "$green$",
    "é" * 31 + "x",
    "é" * 32,
    "数据" * 10 + "数",
    "a" * 63,
    "a" * 64,
]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="dollar quotes are PostgreSQL's")
@pytest.mark.parametrize("body", BODIES)
def test_dollar_quoted_body_reads_back(body: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {identifiers.dollar_quote(body)}")
        assert cursor.fetchone()[0] == body


@pytest.mark.django_db
@pytest.mark.parametrize("name", ODD)
def test_quoted_name_reads_back(name: str) -> None:
    """A quoted name is one identifier, whatever it holds."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 AS {identifiers.quote(connection, name)}")
        assert cursor.description[0][0] == identifiers.stored(connection, name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ODD)
def test_stored_is_the_name_the_database_keeps(name: str) -> None:
    """The name introspection gives a column is stored(name), found in StoredNames."""
    table = identifiers.quote(connection, "gn_identifiers")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} ({identifiers.quote(connection, name)} integer)")
        try:
            description = connection.introspection.get_table_description(cursor, "gn_identifiers")
        finally:
            cursor.execute(f"DROP TABLE {table}")
    [column] = [info.name for info in description]
    assert column == identifiers.stored(connection, name)
    assert name in identifiers.StoredNames(connection, [column])


def test_fit_for_uses_the_unit_of_the_backend() -> None:
    fitted = identifiers.fit_for(connection, "é" * 40, "_sync")
    if connection.vendor == "postgresql":
        assert len(fitted.encode()) <= 63
    elif connection.vendor == "mysql":
        assert len(fitted) <= 64 and fitted == "é" * 40 + "_sync"
    else:
        assert fitted == "é" * 40 + "_sync"
