"""Find the statements of raw SQL that drop or rename what a release may use.

A small tokenizer, not a parser: comments and string literals are skipped,
quoted identifiers are kept whole (a table named ``"drop"`` is no DROP), and
each statement is judged by its leading keywords. It errs on the side of
saying too much, for a warning, never too little.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# One token: a comment, a literal, a quoted identifier, a word, or a character.
TOKEN = re.compile(
    r"""
      (?P<comment>--[^\n]*|\#[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<dollar>\$\$.*?(?:\$\$|\Z)|\$(?P<tag>[A-Za-z_]\w*)\$.*?(?:\$(?P=tag)\$|\Z))
    | (?P<string>[EeBbXxNn]?'(?:[^']|'')*(?:'|\Z))
    | (?P<quoted>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z)|\[[^\]]*(?:\]|\Z))
    | (?P<word>[A-Za-z_][\w$]*)
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# What ALTER TABLE ... DROP may drop without losing data.
HARMLESS_DROPS = frozenset(
    {
        "CONSTRAINT",
        "INDEX",
        "KEY",
        "DEFAULT",
        "NOT",
        "IDENTITY",
        "EXPRESSION",
        "FOREIGN",
        "PRIMARY",
        "CHECK",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "TRIGGER",
        "ROW",  # DROP ROW LEVEL SECURITY
    }
)
# Objects whose DROP loses data (or what the running release reads).
DROPPED_OBJECTS = frozenset({"TABLE", "VIEW", "MATERIALIZED", "SCHEMA", "DATABASE"})
# The first words of the statements judged.
STATEMENT_STARTS = frozenset({"TRUNCATE", "DROP", "RENAME", "EXEC", "EXECUTE", "ALTER"})
# What ALTER TABLE ... RENAME may rename harmlessly.
HARMLESS_RENAMES = frozenset({"CONSTRAINT", "INDEX", "KEY"})
# Statements ALTER ... that may drop or rename columns or tables.
ALTERED_RELATIONS = frozenset({"TABLE", "VIEW", "MATERIALIZED"})


@dataclass(frozen=True)
class Token:
    """A word (upper-cased), a quoted identifier (unquoted) or a character."""

    kind: str
    value: str


@dataclass(frozen=True)
class Finding:
    """A statement that drops or renames: what it does, and the statement."""

    action: str
    statement: str


def _tokens(sql: str) -> Iterator[tuple[Token | None, str]]:
    """Yield (token, text) for sql; the token is None for a comment or a literal."""
    for match in TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind in ("comment", "string", "space"):
            yield None, text
        elif kind == "dollar":
            # A body: only a DO block runs it, which the caller checks.
            yield Token("body", re.sub(r"^\$\w*\$|\$\w*\$$", "", text)), text
        elif kind == "quoted":
            yield Token("ident", text[1:-1]), text
        elif kind == "word":
            yield Token("word", text.upper()), text
        else:
            yield Token("other", text), text


def _statements(sql: str) -> Iterator[tuple[list[Token], str]]:
    """Yield the tokens and the text of each statement of sql."""
    tokens: list[Token] = []
    text: list[str] = []
    for token, chunk in _tokens(sql):
        if token is not None and token.value == ";" and token.kind == "other":
            yield tokens, "".join(text)
            tokens, text = [], []
            continue
        if token is not None:
            tokens.append(token)
        if token is not None or text:
            text.append(chunk)
    yield tokens, "".join(text)


def _name(token: Token | None) -> str | None:
    if token is None or token.kind not in ("word", "ident"):
        return None
    return token.value.lower() if token.kind == "word" else token.value


def _judge(tokens: list[Token]) -> Iterator[str]:
    """Yield what a statement does that a running release may not survive."""
    words = [t.value if t.kind == "word" else "" for t in tokens]
    if not words:
        return
    first = words[0]
    if first == "TRUNCATE":
        yield "TRUNCATE"
    elif first == "DROP":
        if len(words) > 1 and words[1] in DROPPED_OBJECTS:
            yield "DROP MATERIALIZED VIEW" if words[1] == "MATERIALIZED" else f"DROP {words[1]}"
        elif "CASCADE" in words:
            yield "DROP ... CASCADE"
    elif first == "RENAME" and len(words) > 1 and words[1] in ("TABLE", "TABLES"):
        yield "RENAME TABLE"
    elif first in ("EXEC", "EXECUTE") and any(
        _name(t) in ("sp_rename", "dbo.sp_rename") for t in tokens
    ):
        yield "sp_rename"
    elif first == "DO":
        for token in tokens:
            if token.kind == "body":
                yield from _judge_block(token.value)
    elif first == "ALTER" and len(words) > 1 and words[1] in ALTERED_RELATIONS:
        yield from _judge_alter(tokens, words)


def _judge_block(body: str) -> Iterator[str]:
    """Yield what the statements of a procedural block (a DO body) do.

    Its statements follow BEGIN, THEN, LOOP...: each is judged from every
    word that may start one.
    """
    for tokens, _text in _statements(body):
        for position, token in enumerate(tokens):
            if token.kind == "word" and token.value in STATEMENT_STARTS:
                found = list(_judge(tokens[position:]))
                if found:
                    yield from found
                    break


def _judge_alter(tokens: list[Token], words: list[str]) -> Iterator[str]:
    """Yield the drops and renames of an ALTER TABLE (or VIEW) statement."""
    for position, word in enumerate(words):
        following = words[position + 1] if position + 1 < len(words) else ""
        if word == "DROP":
            if following == "PARTITION":
                yield "DROP PARTITION"
            elif following not in HARMLESS_DROPS:
                # COLUMN is optional on PostgreSQL, MariaDB and MySQL.
                yield "DROP COLUMN"
        elif word == "RENAME" and following not in HARMLESS_RENAMES:
            yield "RENAME"
        elif word == "CHANGE":
            # MariaDB/MySQL: CHANGE [COLUMN] old new type renames when the names differ.
            start = position + (2 if following == "COLUMN" else 1)
            old, new = (_name(tokens[i]) if i < len(tokens) else None for i in (start, start + 1))
            if old is not None and new is not None and old.lower() != new.lower():
                yield "CHANGE (rename)"


def scan(sql: str) -> list[Finding]:
    """Return the statements of sql that drop or rename tables, views or columns."""
    findings: list[Finding] = []
    for tokens, text in _statements(sql):
        statement = " ".join(text.split())
        findings.extend(Finding(action, statement) for action in _judge(tokens))
    return findings


def sql_texts(sql: Any) -> list[str]:
    """Return the statements a RunSQL's sql holds: a str, or a list of str or (sql, params)."""
    if isinstance(sql, (list, tuple)):
        texts: list[str] = []
        for item in sql:
            if isinstance(item, (list, tuple)):
                item = item[0] if item else ""
            if isinstance(item, str):
                texts.append(item)
        return texts
    return [sql] if isinstance(sql, str) else []
