"""The interface every backend implements, and what the backends share.

A backend answers two kinds of questions, grouped below by the module that
asks them:

- *facts* about the database, class attributes read as Django's
  ``connection.features`` are (``cuts_long_names``: does it cut a long
  identifier or refuse it?), from which the operations choose their steps;
- *statements*: methods returning SQL (``…_sql``), or context managers and
  helpers that run it, for the steps the operations chose.

A method a backend does not need for its own steps (one guarded by a fact
that is false for it) keeps the base implementation, which says so.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BaseBackend:
    """The statements and facts of one database vendor."""

    #: Django's ``connection.vendor`` of the databases this backend serves.
    vendor: ClassVar[str]

    # -- identifiers (identifiers.py) ------------------------------------------------

    #: The character an identifier is quoted with; doubled inside a name.
    quote_character: ClassVar[str] = '"'
    #: Whether the database cuts a name longer than its limit (rather than refusing it).
    cuts_long_names: ClassVar[bool] = False

    def identifier_limit(self, connection: Any) -> tuple[int | None, str]:
        """Return the longest identifier the database takes and its unit, "bytes" or "chars"."""
        return connection.ops.max_name_length(), "chars"

    def stored_name(self, name: str) -> str:
        """Return the name the database stores for an identifier sent as name."""
        return name

    def quote_name(self, name: str) -> str:
        """Return name quoted as an identifier, any quote character inside doubled."""
        character = self.quote_character
        return character + name.replace(character, character * 2) + character
