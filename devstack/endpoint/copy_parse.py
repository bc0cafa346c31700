"""Parse Redshift ``COPY table [(cols)] FROM 's3://...' <options>`` into a CopySpec.

Only the statement's tokens are read; nothing is executed. Unsupported options do not raise here:
they are kept in ``CopySpec.error`` so the load fails with a message naming the option (the
statement still has to be rewritten into something PostgreSQL can prepare).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devstack.endpoint.tokens import Token, string_value, unquote_ident

# Options accepted and ignored: they tune Redshift's storage, not the loaded data.
NOOP_OPTIONS = {"COMPUPDATE", "STATUPDATE"}
_ON_OFF = {"ON", "OFF", "TRUE", "FALSE", "PRESET"}


class CopySyntaxError(ValueError):
    """The statement is not a COPY ... FROM 's3://...' we understand (left to PostgreSQL)."""


@dataclass
class CopySpec:
    target: str                       # the table as written, e.g. public.staging_events or #t
    target_parts: list[str]           # resolved identifier parts, e.g. ['public', 'staging_events']
    columns: list[str] | None         # explicit column list, resolved
    source: str                       # s3://bucket/prefix
    fmt: str = "text"                 # json | csv | text (Redshift's default pipe-delimited)
    json_mode: str = ""               # auto | auto ignorecase | s3://.../jsonpaths.json
    credentials: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    timeformat: str | None = None
    dateformat: str | None = None
    blanks_as_null: bool = False
    empty_as_null: bool = False
    truncate_columns: bool = False
    max_error: int = 0
    gzip: bool = False
    manifest: bool = False
    delimiter: str | None = None
    quote: str = '"'
    ignore_header: int = 0
    null_as: str | None = None
    error: str | None = None          # set when an option is not supported
    binary: bool = False              # rewritten to COPY ... FORMAT binary (the relay's decision)
    binary_types: tuple[str | None, ...] = ()   # the column encodings that decision was based on

    @property
    def table_name(self) -> str:
        return self.target_parts[-1]

    @property
    def bucket_and_prefix(self) -> tuple[str, str]:
        rest = self.source[len("s3://"):]
        bucket, _, prefix = rest.partition("/")
        return bucket, prefix


def is_s3_copy(sig: list[Token]) -> bool:
    """COPY ... FROM 's3://...' (as opposed to PostgreSQL's own COPY FROM STDIN/file)."""
    if not sig or sig[0].upper != "COPY":
        return False
    for i, tok in enumerate(sig[:-1]):
        if tok.upper == "FROM" and sig[i + 1].kind == "str":
            return string_value(sig[i + 1]).lower().startswith("s3://")
    return False


def _name(sig: list[Token], i: int) -> tuple[str, list[str], int]:
    """A possibly qualified name starting at sig[i] -> (as written, resolved parts, next index)."""
    written, parts = [], []
    while i < len(sig) and sig[i].kind in ("word", "qident"):
        written.append(sig[i].text)
        tok = sig[i]
        parts.append(tok.text.lower() if tok.kind == "word" else unquote_ident(tok))
        i += 1
        if i < len(sig) and sig[i].text == ".":
            written.append(".")
            i += 1
        else:
            break
    if not parts:
        raise CopySyntaxError("COPY without a table name")
    return "".join(written), parts, i


def parse_credentials(text: str) -> dict[str, str]:
    """'aws_access_key_id=...;aws_secret_access_key=...[;token=...]' or 'aws_iam_role=arn:...'."""
    creds = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            creds[key.strip().lower()] = value.strip()
    return creds


def parse_copy(sig: list[Token]) -> CopySpec:
    """Parse the significant tokens of one COPY statement (without a trailing ';')."""
    if sig and sig[-1].text == ";":
        sig = sig[:-1]
    if not sig or sig[0].upper != "COPY":
        raise CopySyntaxError("not a COPY statement")
    target, parts, i = _name(sig, 1)
    columns = None
    if i < len(sig) and sig[i].text == "(":
        columns = []
        i += 1
        while i < len(sig) and sig[i].text != ")":
            if sig[i].kind in ("word", "qident"):
                columns.append(unquote_ident(sig[i]))
            i += 1
        i += 1
    if i + 1 >= len(sig) or sig[i].upper != "FROM" or sig[i + 1].kind != "str":
        raise CopySyntaxError("COPY without FROM 's3://...'")
    spec = CopySpec(target=target, target_parts=parts, columns=columns, source=string_value(sig[i + 1]))
    _parse_options(spec, sig, i + 2)
    return spec


def _parse_options(spec: CopySpec, sig: list[Token], i: int) -> None:
    def peek(k: int = 0) -> Token | None:
        return sig[i + k] if i + k < len(sig) else None

    def take_value() -> str:
        """The literal after an option keyword, skipping an optional AS."""
        nonlocal i
        if (tok := peek()) is not None and tok.upper == "AS":
            i += 1
        tok = peek()
        if tok is None:
            raise CopySyntaxError(f"COPY option {word} needs a value")
        i += 1
        return string_value(tok) if tok.kind == "str" else tok.text

    def json_arg() -> str:
        """JSON [AS] 'auto' | 'auto ignorecase' | 's3://...jsonpaths' (bare JSON means 'auto')."""
        nonlocal i
        if (tok := peek()) is not None and tok.upper == "AS":
            i += 1
        if (tok := peek()) is not None and tok.kind == "str":
            i += 1
            return string_value(tok)
        return "auto"

    while i < len(sig):
        tok = sig[i]
        word = tok.upper or tok.text
        i += 1
        if tok.text == ",":
            continue
        if word == "CREDENTIALS" or word == "WITH" and (n := peek()) is not None and n.upper == "CREDENTIALS":
            if word == "WITH":
                i += 1
            spec.credentials.update(parse_credentials(take_value()))
        elif word in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"):
            key = {"ACCESS_KEY_ID": "aws_access_key_id", "SECRET_ACCESS_KEY": "aws_secret_access_key",
                   "SESSION_TOKEN": "token"}[word]
            spec.credentials[key] = take_value()
        elif word == "IAM_ROLE":
            spec.credentials["aws_iam_role"] = take_value()
        elif word == "REGION":
            spec.region = take_value()
        elif word == "FORMAT":
            if (n := peek()) is not None and n.upper == "AS":
                i += 1
            fmt_tok = peek()
            i += 1
            fmt = fmt_tok.upper if fmt_tok is not None else ""
            if fmt == "JSON":
                spec.fmt = "json"
                spec.json_mode = json_arg()
            elif fmt == "CSV":
                spec.fmt = "csv"
            else:
                spec.error = spec.error or f"COPY FORMAT {fmt or '?'} is not supported by the local endpoint"
        elif word == "JSON":
            spec.fmt = "json"
            spec.json_mode = json_arg()
        elif word == "CSV":
            spec.fmt = "csv"
        elif word == "QUOTE":
            spec.quote = take_value()
        elif word == "DELIMITER":
            spec.delimiter = take_value()
        elif word == "IGNOREHEADER":
            spec.ignore_header = int(take_value())
        elif word == "NULL":
            spec.null_as = take_value()
        elif word == "TIMEFORMAT":
            spec.timeformat = take_value()
        elif word == "DATEFORMAT":
            spec.dateformat = take_value()
        elif word == "BLANKSASNULL":
            spec.blanks_as_null = True
        elif word == "EMPTYASNULL":
            spec.empty_as_null = True
        elif word == "TRUNCATECOLUMNS":
            spec.truncate_columns = True
        elif word == "MAXERROR":
            spec.max_error = int(take_value())
        elif word == "GZIP":
            spec.gzip = True
        elif word == "MANIFEST":
            spec.manifest = True
        elif word in NOOP_OPTIONS:
            if (n := peek()) is not None and n.upper in _ON_OFF:
                i += 1
        else:
            spec.error = spec.error or f"COPY option {word} is not supported by the local endpoint"
            # Skip the option's argument, if any, so later options are still read.
            if (n := peek()) is not None and n.kind in ("str", "num"):
                i += 1
