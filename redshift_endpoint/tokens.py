"""A small SQL tokenizer that respects quotes, dollar quotes and comments.

Concatenating the texts of the tokens gives back the input exactly, so rewrites can replace a
few tokens and leave every other byte of the statement untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<str>[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z)|'(?:[^']|'')*(?:'|\Z))
  | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
  | (?P<qident>"(?:[^"]|"")*(?:"|\Z))
  | (?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<word>\#?[A-Za-z_\x80-\uffff][A-Za-z0-9_$\x80-\uffff]*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class Token:
    kind: str    # ws, comment, str, qident, num, word, punct
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def significant(self) -> bool:
        return self.kind not in ("ws", "comment")


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        assert m is not None  # the punct alternative matches any character
        kind = m.lastgroup or "punct"
        if kind == "dollar":
            # $tag$ ... $tag$ is one string token; a lone $1 parameter is punct + num.
            tag = m.group()
            end = sql.find(tag, m.end())
            end = len(sql) if end < 0 else end + len(tag)
            tokens.append(Token("str", sql[pos:end]))
            pos = end
            continue
        tokens.append(Token(kind, m.group()))
        pos = m.end()
    return tokens


def split_statements(tokens: list[Token]) -> list[list[Token]]:
    """Split at top-level semicolons; each statement keeps its trailing ';' token (if any)."""
    statements: list[list[Token]] = [[]]
    for tok in tokens:
        statements[-1].append(tok)
        if tok.kind == "punct" and tok.text == ";":
            statements.append([])
    if not statements[-1]:
        statements.pop()
    return statements


def join(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens)


def unquote_ident(tok: Token) -> str:
    """Identifier as PostgreSQL/Redshift resolves it: quoted kept as is, unquoted lower-cased."""
    if tok.kind == "qident":
        return tok.text[1:-1].replace('""', '"')
    return tok.text.lower()


def string_value(tok: Token) -> str:
    """Value of a '...' literal (E'' escapes are rare in COPY options; only '' is undone)."""
    text = tok.text
    if text[:1] in "eE":
        text = text[1:]
    return text[1:-1].replace("''", "'")
