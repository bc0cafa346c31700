"""Parse Redshift ``COPY table [(cols)] FROM 's3://...' <parameters>`` into a CopySpec.

Only the statement's tokens are read; nothing is executed. Every parameter of Redshift's COPY
reference is either understood here with its documented arguments or refused: a refusal, a
value that is not valid for its parameter, a combination Redshift rejects, or an unknown word
raises ``CopySyntaxError`` naming the parameter. The rewriter then sends PostgreSQL a statement
that raises that error (``refusal_sql``), never the COPY text itself: PostgreSQL would log it,
credentials included. redshift_endpoint/docs/copy-parameters.md lists every parameter and its status.
"""

from __future__ import annotations

import re

from redshift_endpoint import timefmt
from redshift_endpoint.copy_spec import CopySpec, CopySyntaxError
from redshift_endpoint.tokens import Token, string_value, unquote_ident

# Accepted without effect on the loaded rows: they tune Redshift's compression encodings and
# planner statistics, which PostgreSQL does not have (documented in redshift_endpoint/docs/copy-parameters.md).
_ON_OFF = {"ON", "OFF", "TRUE", "FALSE"}
# Parameters Redshift documents that the local endpoint refuses, with the reason given to the client.
REFUSED = {
    "FIXEDWIDTH": "fixed-width files are not supported by the local endpoint",
    "SHAPEFILE": "shapefiles are not supported by the local endpoint",
    "AVRO": "Avro files are not supported by the local endpoint",
    "PARQUET": "Parquet files are not supported by the local endpoint",
    "ORC": "ORC files are not supported by the local endpoint",
    "LZOP": "lzop compression is not supported by the local endpoint",
    "ZSTD": "Zstandard compression is not supported by the local endpoint",
    "ENCRYPTED": "client-side encrypted objects are not supported by the local endpoint",
    "MASTER_SYMMETRIC_KEY": "client-side encrypted objects are not supported by the local endpoint",
    "SSH": "COPY from remote hosts (SSH) is not supported by the local endpoint",
    "READRATIO": "READRATIO applies to COPY from DynamoDB, which the local endpoint does not support",
    "EXPLICIT_IDS": "EXPLICIT_IDS is not supported by the local endpoint",
    "REMOVEQUOTES": "REMOVEQUOTES is not supported by the local endpoint",
    "SERIALIZETOJSON": "SERIALIZETOJSON applies to Parquet/ORC, which the local endpoint does not support",
    "JOB": "COPY JOB (auto-copy) is not supported by the local endpoint",
}
# Words that put a statement in the endpoint's hands even when its FROM is not an s3:// literal:
# PostgreSQL must never parse (and log) a statement carrying credentials.
_REDSHIFT_WORDS = {"CREDENTIALS", "IAM_ROLE", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN",
                   "MANIFEST", "REGION", "JSON", "GZIP", "BZIP2", "MAXERROR", "TIMEFORMAT", "DATEFORMAT"}
_JSON_INCOMPATIBLE = ("CSV", "DELIMITER", "ESCAPE", "FILLRECORD", "IGNOREBLANKLINES", "NULL AS")
# Parameters without an argument that switch one CopySpec field on.
_FLAGS = {"MANIFEST": "manifest", "GZIP": "gzip", "BZIP2": "bzip2", "BLANKSASNULL": "blanks_as_null",
          "EMPTYASNULL": "empty_as_null", "TRUNCATECOLUMNS": "truncate_columns", "TRIMBLANKS": "trim_blanks",
          "FILLRECORD": "fill_record", "IGNOREBLANKLINES": "ignore_blank_lines", "ESCAPE": "escape",
          "NOLOAD": "no_load", "ROUNDEC": "round_dec", "ACCEPTANYDATE": "accept_any_date"}
MAXERROR_LIMIT = 100000  # Redshift: "The upper limit is 100000"; larger values are lowered to it


def _top_level(sig: list[Token]):
    """(index, token) of the tokens outside parentheses."""
    depth = 0
    for i, tok in enumerate(sig):
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            yield i, tok


def is_s3_copy(sig: list[Token]) -> bool:
    """Whether the endpoint handles this COPY itself (loads it from S3, or refuses it).

    That is every Redshift-style COPY: ``COPY t ... FROM <anything but STDIN>`` (the FROM outside
    parentheses, so ``COPY (SELECT ... FROM x) TO STDOUT`` stays PostgreSQL's), and any COPY with
    a Redshift-only parameter such as CREDENTIALS. Only PostgreSQL's own ``COPY ... FROM STDIN``
    and ``COPY ... TO`` without Redshift words reach PostgreSQL unchanged.
    """
    if not sig or sig[0].upper != "COPY":
        return False
    top = list(_top_level(sig))
    clause = False   # past FROM/TO: the table's name (say, a table called "region") is no parameter
    for k, (_, tok) in enumerate(top):
        if tok.upper == "FROM" and not clause:
            nxt = top[k + 1][1] if k + 1 < len(top) else None
            if nxt is None or nxt.upper != "STDIN":
                return True
        if tok.upper in ("FROM", "TO"):
            clause = True
        elif clause and tok.upper in _REDSHIFT_WORDS:
            return True
    return False


def refusal_sql(error: CopySyntaxError) -> str:
    """A statement PostgreSQL can prepare and that fails with ``error`` (and shows nothing else).

    PostgreSQL logs a failed statement's text: this one holds only the message, which never
    quotes a credential.
    """
    msg = error.message.replace("'", "''")
    code = error.code if re.fullmatch(r"[0-9A-Z]{5}", error.code) else "42601"
    tag, n = "$redshift_copy$", 0
    while tag in msg:  # the message quotes user text: keep the dollar quote closed where it should be
        n += 1
        tag = f"$redshift_copy{n}$"
    return f"DO {tag} BEGIN RAISE EXCEPTION USING MESSAGE = '{msg}', ERRCODE = '{code}'; END {tag}"


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
    if not parts or parts[0].upper() == "FROM":
        raise CopySyntaxError("syntax error in COPY: a table name must follow COPY")
    return "".join(written), parts, i


def parse_credentials(text: str) -> dict[str, str]:
    """'aws_access_key_id=...;aws_secret_access_key=...[;token=...]' or 'aws_iam_role=arn:...'."""
    creds = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in ("aws_access_key_id", "aws_secret_access_key", "token", "aws_iam_role",
                                  "master_symmetric_key"):
            # The value is never echoed: it may be a secret.
            raise CopySyntaxError("Invalid credentials string in CREDENTIALS: expected "
                                  "'aws_access_key_id=...;aws_secret_access_key=...[;token=...]' "
                                  "or 'aws_iam_role=arn:...'", "XX000")
        if key == "master_symmetric_key":
            raise CopySyntaxError("COPY parameter ENCRYPTED (master_symmetric_key in CREDENTIALS): "
                                  + REFUSED["ENCRYPTED"], "0A000")
        creds[key] = value.strip()
    return creds


def parse_copy(sig: list[Token]) -> CopySpec:
    """Parse the significant tokens of one COPY statement; any problem raises CopySyntaxError."""
    try:
        return _parse_copy(sig)
    except CopySyntaxError:
        raise
    except Exception as e:  # noqa: BLE001 - a parser slip must still never hand the text to PostgreSQL
        raise CopySyntaxError(f"syntax error in COPY ({type(e).__name__})") from None


def _parse_copy(sig: list[Token]) -> CopySpec:
    if sig and sig[-1].text == ";":
        sig = sig[:-1]
    if not sig or sig[0].upper != "COPY":
        raise CopySyntaxError("not a COPY statement")
    if len(sig) > 1 and sig[1].text == "(":
        raise CopySyntaxError("COPY (query) is not supported by Redshift; use UNLOAD", "0A000")
    target, parts, i = _name(sig, 1)
    columns = None
    if i < len(sig) and sig[i].text == "(":
        columns = []
        i += 1
        expect_name = True
        while i < len(sig) and sig[i].text != ")":
            tok = sig[i]
            if expect_name and tok.kind in ("word", "qident"):
                columns.append(unquote_ident(tok))
            elif not expect_name and tok.text == ",":
                pass
            else:
                raise CopySyntaxError(f"syntax error in the COPY column list at or near \"{tok.text}\"")
            expect_name = not expect_name
            i += 1
        if i >= len(sig) or not columns or expect_name:
            raise CopySyntaxError("syntax error in the COPY column list")
        i += 1
    if i >= len(sig) or sig[i].upper != "FROM":
        raise CopySyntaxError("syntax error in COPY: expected FROM 'data_source'")
    if i + 1 >= len(sig) or sig[i + 1].kind != "str" or sig[i + 1].text.startswith("$"):
        raise CopySyntaxError("syntax error in COPY: FROM needs a quoted data source, e.g. FROM 's3://bucket/prefix'")
    source = string_value(sig[i + 1])
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    if scheme != "s3":
        if scheme in ("dynamodb", "emr"):
            raise CopySyntaxError(f"COPY from {scheme}:// is not supported by the local endpoint (only s3://)",
                                  "0A000")
        raise CopySyntaxError("LOAD source is not supported. (Hint: only S3 or DynamoDB or EMR based load is "
                              "allowed)", "XX000")
    spec = CopySpec(target=target, target_parts=parts, columns=columns, source=source)
    _Options(spec, sig, i + 2).parse()
    return spec


class _Options:
    """The parameters after FROM 'source', in any order (Redshift allows any order)."""

    def __init__(self, spec: CopySpec, sig: list[Token], i: int):
        self.spec, self.sig, self.i = spec, sig, i
        self.seen: set[str] = set()

    def peek(self, k: int = 0) -> Token | None:
        return self.sig[self.i + k] if self.i + k < len(self.sig) else None

    def skip_as(self) -> None:
        if (tok := self.peek()) is not None and tok.upper == "AS":
            self.i += 1

    def string(self, option: str, secret: bool = False) -> str:
        """The quoted literal after an option (optional AS)."""
        self.skip_as()
        tok = self.peek()
        if tok is None or tok.kind != "str" or tok.text.startswith("$"):
            shown = "" if tok is None or secret else f" at or near \"{tok.text}\""
            raise CopySyntaxError(f"COPY parameter {option} needs a quoted string argument{shown}")
        self.i += 1
        return string_value(tok)

    def integer(self, option: str, low: int, high: int | None) -> int:
        self.skip_as()
        tok = self.peek()
        if tok is None or tok.kind != "num" or not tok.text.isdigit():
            shown = "nothing" if tok is None else tok.text
            raise CopySyntaxError(f"COPY parameter {option} needs an integer argument, got {shown}")
        self.i += 1
        value = int(tok.text)
        if value < low or (high is not None and value > high):
            raise CopySyntaxError(f"COPY parameter {option}: {value} is out of range "
                                  f"({low} to {high if high is not None else 'any'})")
        return value

    def char(self, option: str) -> str:
        value = self.string(option)
        if re.fullmatch(r"\\[0-7]{3}", value):
            value = chr(int(value[1:], 8))
        elif value in ("\\t",):
            value = "\t"
        if len(value) != 1 or not value.isascii() or value in "\n\r":
            raise CopySyntaxError(f"COPY parameter {option} must be a single ASCII character, got {value!r}")
        return value

    def once(self, name: str) -> None:
        if name in self.seen:
            raise CopySyntaxError(f"conflicting or redundant COPY parameter {name}")
        self.seen.add(name)

    def parse(self) -> None:
        spec = self.spec
        while self.i < len(self.sig):
            tok = self.sig[self.i]
            self.i += 1
            word = tok.upper
            if tok.text == ",":
                continue
            if not word:
                raise CopySyntaxError(f"syntax error in COPY parameters at or near \"{tok.text[:40]}\""
                                      if tok.kind != "str" else "syntax error in COPY parameters: a quoted "
                                      "string that follows no parameter")
            if word == "WITH" and (n := self.peek()) is not None and n.upper == "CREDENTIALS":
                continue
            self.option(word)
        self.check_combinations()
        if not spec.fmt == "json" and spec.json_mode:
            spec.fmt = "json"

    def option(self, word: str) -> None:  # noqa: C901 - one branch per documented parameter
        spec = self.spec
        if word in REFUSED:
            raise CopySyntaxError(f"COPY parameter {word}: {REFUSED[word]}", "0A000")
        if word == "NULL":
            self.skip_as()
            self.once("NULL AS")
            spec.null_as = self.string("NULL AS")
            return
        self.once(word)
        if word == "CREDENTIALS":
            spec.credentials.update(parse_credentials(self.string(word, secret=True)))
        elif word in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"):
            key = {"ACCESS_KEY_ID": "aws_access_key_id", "SECRET_ACCESS_KEY": "aws_secret_access_key",
                   "SESSION_TOKEN": "token"}[word]
            spec.credentials[key] = self.string(word, secret=True)
        elif word == "IAM_ROLE":
            if (n := self.peek()) is not None and n.upper == "DEFAULT":
                self.i += 1
                spec.credentials["aws_iam_role"] = "default"
            else:
                spec.credentials["aws_iam_role"] = self.string(word, secret=True)
        elif word == "REGION":
            spec.region = self.string(word)
            if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", spec.region):
                raise CopySyntaxError(f"COPY parameter REGION: invalid region {spec.region!r}", "XX000")
        elif word == "FORMAT":
            self.skip_as()
            fmt_tok = self.peek()
            fmt = fmt_tok.upper if fmt_tok is not None else ""
            if fmt in REFUSED:
                raise CopySyntaxError(f"COPY parameter FORMAT {fmt}: {REFUSED[fmt]}", "0A000")
            if fmt not in ("CSV", "JSON"):
                raise CopySyntaxError(f"COPY parameter FORMAT: unknown format "
                                      f"{fmt_tok.text if fmt_tok is not None else '(none)'}")
            self.i += 1
            self.seen.add(fmt)
            self.format(fmt)
        elif word in ("CSV", "JSON"):
            self.format(word)
        elif word == "QUOTE":
            spec.quote = self.char(word)
        elif word == "DELIMITER":
            spec.delimiter = self.char(word)
        elif word == "ENCODING":
            self.skip_as()
            tok = self.peek()
            value = (tok.upper or string_value(tok).upper()) if tok is not None and tok.kind in ("word", "str") else ""
            if value in ("UTF16", "UTF16LE", "UTF16BE"):
                raise CopySyntaxError(f"COPY parameter ENCODING {value} is not supported by the local endpoint "
                                      "(UTF8 only)", "0A000")
            if value not in ("UTF8", "UTF-8"):
                raise CopySyntaxError("COPY parameter ENCODING: valid values are UTF8, UTF16, UTF16LE, UTF16BE")
            self.i += 1
        elif word == "DATEFORMAT":
            spec.dateformat = self.string(word)
            timefmt.validate(spec.dateformat, "DATEFORMAT")
        elif word == "TIMEFORMAT":
            spec.timeformat = self.string(word)
            timefmt.validate(spec.timeformat, "TIMEFORMAT")
        elif word in _FLAGS:
            setattr(spec, _FLAGS[word], True)
        elif word == "IGNOREHEADER":
            spec.ignore_header = self.integer(word, 0, 2**31 - 1)
        elif word == "MAXERROR":
            spec.max_error = min(self.integer(word, 0, None), MAXERROR_LIMIT)
        elif word == "IGNOREALLERRORS":
            spec.max_error = 2**62
        elif word == "ACCEPTINVCHARS":
            spec.accept_inv_chars = "?"
            if (n := self.peek()) is not None and (n.kind == "str" or n.upper == "AS"):
                spec.accept_inv_chars = self.char(word)
                if spec.accept_inv_chars == "\0":
                    raise CopySyntaxError("COPY parameter ACCEPTINVCHARS: the replacement cannot be NUL")
        elif word == "COMPROWS":
            self.integer(word, 1000, 2**31 - 1)
        elif word == "COMPUPDATE":
            if (n := self.peek()) is not None and n.upper in _ON_OFF | {"PRESET"}:
                self.i += 1
        elif word == "STATUPDATE":
            if (n := self.peek()) is not None and n.upper in _ON_OFF:
                self.i += 1
        else:
            raise CopySyntaxError(f"COPY parameter {word} is not a Redshift COPY parameter "
                                  f"(syntax error at or near \"{word}\")")

    def format(self, fmt: str) -> None:
        spec = self.spec
        if fmt == "CSV":
            spec.fmt = "csv"
            if (n := self.peek()) is not None and n.upper == "QUOTE":
                self.i += 1
                self.once("QUOTE")
                spec.quote = self.char("QUOTE")
            return
        spec.fmt = "json"
        self.skip_as()
        tok = self.peek()
        if tok is not None and tok.kind == "str":
            self.i += 1
            arg = string_value(tok)
        else:
            arg = "auto"
        if arg == "noshred":
            raise CopySyntaxError("COPY parameter JSON 'noshred' (SUPER columns) is not supported by the local "
                                  "endpoint", "0A000")
        if arg not in ("auto", "auto ignorecase") and not arg.lower().startswith("s3://"):
            raise CopySyntaxError(f"COPY parameter JSON: invalid argument {arg!r} (expected 'auto', "
                                  "'auto ignorecase' or 's3://jsonpaths_file')")
        spec.json_mode = arg

    def check_combinations(self) -> None:
        spec, seen = self.spec, self.seen
        if "JSON" in seen:
            bad = [p for p in _JSON_INCOMPATIBLE if p in seen]
            if bad:
                raise CopySyntaxError(f"COPY parameter {bad[0]} cannot be used with JSON")
        if "CSV" in seen and "ESCAPE" in seen:
            raise CopySyntaxError("COPY parameter ESCAPE cannot be used with CSV")
        if "QUOTE" in seen and "CSV" not in seen:
            raise CopySyntaxError("COPY parameter QUOTE can be used only with CSV")
        if "IGNOREALLERRORS" in seen and "MAXERROR" in seen:
            raise CopySyntaxError("COPY parameter IGNOREALLERRORS cannot be used with MAXERROR")
        if spec.gzip and spec.bzip2:
            raise CopySyntaxError("COPY parameters GZIP and BZIP2 cannot be used together")
        if spec.delimiter is not None and spec.fmt == "csv" and spec.delimiter == spec.quote:
            raise CopySyntaxError("COPY parameter DELIMITER must differ from QUOTE")
        has_key = "aws_access_key_id" in spec.credentials or "aws_secret_access_key" in spec.credentials
        if has_key and "aws_iam_role" in spec.credentials:
            raise CopySyntaxError("COPY authorization: specify either IAM_ROLE or access keys, not both", "XX000")
        if has_key and not ("aws_access_key_id" in spec.credentials and "aws_secret_access_key" in spec.credentials):
            raise CopySyntaxError("COPY authorization: ACCESS_KEY_ID and SECRET_ACCESS_KEY go together", "XX000")
