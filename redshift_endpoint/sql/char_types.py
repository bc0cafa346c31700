"""Redshift's character column types in CREATE TABLE / ALTER TABLE ADD COLUMN (r_Character_types).

Redshift sizes CHAR(n) and VARCHAR(n) in bytes, PostgreSQL in characters. The column keeps the
PostgreSQL type of the same n (n characters always hold n bytes, so nothing Redshift accepts is
refused by the type, and catalogs show the declared type), and a CHECK constraint enforces the
bytes: a VARCHAR value over n bytes fails with "value too long for type character varying(n)", a
CHAR value with a multibyte character (CHAR holds single-byte characters only) fails with the
message of "Multibyte character load errors". The constraint calls a ``redshift_compat`` function
only when the value is over n bytes, to raise Redshift's error.

Defaults and limits from the same page: VARCHAR without a length is VARCHAR(256), CHAR is CHAR(1),
BPCHAR is CHAR(256), TEXT is VARCHAR(256); MAX is 65535 bytes for VARCHAR and 4096 for CHAR, and
a larger length is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

VARCHAR_MAX = 65535
CHAR_MAX = 4096

_LENGTH = r"(?:\s*\(\s*(?P<n>\d+|max)\s*\))?"
_VARYING = re.compile(r"(?:n?varchar|(?:national\s+)?(?:character|char)\s+varying|nchar\s+varying)" + _LENGTH)
_FIXED = re.compile(r"(?P<name>n?char|(?:national\s+)?character|bpchar)" + _LENGTH)


class CharTypeError(ValueError):
    """A character type Redshift refuses (a length out of range): the statement fails with this."""

    def __init__(self, message: str, code: str = "22023"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class CharType:
    varying: bool
    length: int

    @property
    def pg_type(self) -> str:
        return f"{'varchar' if self.varying else 'char'}({self.length})"

    def check(self, column: str) -> str:
        """The column constraint enforcing the length in bytes (and single-byte CHAR)."""
        q = '"' + column.replace('"', '""') + '"'
        raiser = "varchar_too_long" if self.varying else "char_not_single_byte"
        return (f"CONSTRAINT {constraint_name(column)} CHECK (octet_length({q}) <= {self.length} "
                f"OR redshift_compat.{raiser}({q}, {self.length}))")


def constraint_name(column: str) -> str:
    """``<column>_bytes``, quoted; shortened with a hash past PostgreSQL's 63 bytes."""
    name = f"{column}_bytes"
    if len(name.encode()) > 63:
        name = name.encode()[:54].decode(errors="ignore") + "_" + hashlib.md5(name.encode()).hexdigest()[:8]
    return '"' + name.replace('"', '""') + '"'


def parse(type_text: str) -> CharType | None:
    """The character type a column declaration spells (None: not a character type)."""
    t = " ".join(type_text.lower().split())
    if t == "text":
        return CharType(True, 256)
    if m := _VARYING.fullmatch(t):
        return CharType(True, _length(m.group("n"), 256, VARCHAR_MAX, "varchar"))
    if m := _FIXED.fullmatch(t):
        default = 256 if m.group("name") == "bpchar" else 1
        return CharType(False, _length(m.group("n"), default, CHAR_MAX, "char"))
    return None


def _length(text: str | None, default: int, limit: int, name: str) -> int:
    if text is None:
        return default
    if text == "max":
        return limit
    n = int(text)
    if n < 1:
        raise CharTypeError(f"length for type {name} must be at least 1")
    if n > limit:
        raise CharTypeError(f"length for type {name} cannot exceed {limit}")
    return n
