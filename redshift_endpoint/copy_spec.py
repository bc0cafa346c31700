"""What a Redshift COPY statement asks for: ``CopySpec``, and ``CopySyntaxError`` for one the endpoint refuses.

``RowOptions`` are the COPY parameters that decide how each record and value is read. ``CopySpec``
(the parsed statement, copy_parse.py) and ``LoadSpec`` (what a conversion worker gets, load_spec.py)
both carry them, so a new parameter is declared once. This module imports nothing from the
package: the parser, the format-string checks (timefmt.py) and the loader all depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class CopySyntaxError(ValueError):
    """A COPY the endpoint answers itself with an error (never reaches PostgreSQL's parser)."""

    def __init__(self, message: str, code: str = "42601"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(kw_only=True)
class RowOptions:
    """The COPY parameters that decide how records and values are read (plain, picklable data)."""
    timeformat: str | None = None     # None: the default format; 'auto'; 'epochsecs'; 'epochmillisecs'; a format
    dateformat: str | None = None
    blanks_as_null: bool = False
    empty_as_null: bool = False
    truncate_columns: bool = False
    trim_blanks: bool = False
    fill_record: bool = False
    ignore_blank_lines: bool = False
    escape: bool = False                  # text format: backslash escapes (ESCAPE)
    quote: str = '"'
    ignore_header: int = 0
    null_as: str | None = None
    round_dec: bool = False               # ROUNDEC: round excess decimals (default: truncate)
    accept_inv_chars: str | None = None   # ACCEPTINVCHARS: the replacement for each invalid byte
    accept_any_date: bool = False         # ACCEPTANYDATE: a date/time that does not match is NULL
    binary: bool = False                  # rows in binary COPY format (the relay's decision, see binary.py)


@dataclass
class CopySpec(RowOptions):
    target: str                       # the table as written, e.g. public.staging_events or #t
    target_parts: list[str]           # resolved identifier parts, e.g. ['public', 'staging_events']
    columns: list[str] | None         # explicit column list, resolved
    source: str                       # s3://bucket/prefix
    fmt: str = "text"                 # json | csv | text (Redshift's default pipe-delimited)
    json_mode: str = ""               # auto | auto ignorecase | s3://.../jsonpaths.json
    credentials: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    max_error: int = 0
    no_load: bool = False
    gzip: bool = False
    bzip2: bool = False
    manifest: bool = False
    delimiter: str | None = None      # None: ',' for CSV, '|' for text
    binary_types: tuple[str | None, ...] = ()   # the column encodings the binary decision was based on

    @property
    def table_name(self) -> str:
        return self.target_parts[-1]
