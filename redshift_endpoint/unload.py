"""UNLOAD ('select ...') TO 's3://...' <authorization> [options], into the local S3 (r_UNLOAD).

The UNLOAD never reaches PostgreSQL as written (its text carries credentials). The relay sends
``COPY (select ...) TO STDOUT`` instead, in the client's own session and transaction, hides the
copy-out from the client, writes the rows to S3 in Redshift's format and answers ``UNLOAD``. An
UNLOAD this module cannot honour exactly becomes a statement that raises an error naming the
option (``error_statement``), so the client gets the error in the usual protocol flow.
"""

from __future__ import annotations

import bz2
import gzip
import re
import tempfile
from dataclasses import dataclass, field

import orjson
from botocore.exceptions import ClientError

from redshift_endpoint import s3source
from redshift_endpoint.tokens import Token, string_value

MB = 1024 * 1024
DEFAULT_MAX_FILE = int(6.2 * 1024 * MB)  # 6.2 GB
SPOOL = 8 * MB                            # rows and files stay in memory up to this size, then on disk


class UnloadError(ValueError):
    """An UNLOAD that is malformed or asks for what the endpoint does not do."""

    def __init__(self, message: str, code: str = "42601"):
        super().__init__(message)
        self.code = code


@dataclass
class UnloadSpec:
    query: str                                  # the SELECT, as written inside the quotes
    target: str                                 # s3://bucket/name-prefix
    fmt: str = "text"                           # text (pipe-delimited) | csv | json
    credentials: dict[str, str] = field(default_factory=dict, repr=False)   # never in a log line
    region: str | None = None
    header: bool = False
    delimiter: str | None = None
    null_as: str = ""
    addquotes: bool = False
    escape: bool = False
    parallel: bool = True
    manifest: bool = False
    manifest_verbose: bool = False
    allow_overwrite: bool = False
    cleanpath: bool = False
    compression: str | None = None              # gzip | bzip2
    extension: str = ""
    max_file_size: int = DEFAULT_MAX_FILE

    @property
    def sep(self) -> str:
        return self.delimiter if self.delimiter is not None else ("," if self.fmt == "csv" else "|")


_REFUSED = {
    "FIXEDWIDTH": "FIXEDWIDTH", "ENCRYPTED": "ENCRYPTED", "KMS_KEY_ID": "KMS_KEY_ID",
    "MASTER_SYMMETRIC_KEY": "MASTER_SYMMETRIC_KEY", "PARTITION": "PARTITION BY", "ROWGROUPSIZE": "ROWGROUPSIZE",
    "ZSTD": "ZSTD",
}


def is_unload(sig: list[Token]) -> bool:
    return bool(sig) and sig[0].upper == "UNLOAD"


def parse_unload(sig: list[Token]) -> UnloadSpec:
    """Parse the significant tokens of one UNLOAD statement; raises UnloadError."""
    if sig and sig[-1].text == ";":
        sig = sig[:-1]
    if len(sig) < 6 or sig[1].text != "(" or sig[2].kind != "str" or sig[3].text != ")" \
            or sig[4].upper != "TO" or sig[5].kind != "str":
        raise UnloadError("syntax error in UNLOAD: expected UNLOAD ('select-statement') TO 's3://...'")
    spec = UnloadSpec(query=string_value(sig[2]), target=string_value(sig[5]))
    if not spec.target.lower().startswith("s3://") or not spec.target[5:].split("/")[0]:
        raise UnloadError(f"UNLOAD destination must be an s3:// path: '{spec.target}'")
    i = 6
    seen: set[str] = set()

    def peek(k: int = 0) -> Token | None:
        return sig[i + k] if i + k < len(sig) else None

    def value(word: str) -> str:
        nonlocal i
        if (t := peek()) is not None and t.upper == "AS":
            i += 1
        t = peek()
        if t is None or t.kind not in ("str", "num", "word"):
            raise UnloadError(f"UNLOAD option {word} needs a value")
        i += 1
        return string_value(t) if t.kind == "str" else t.text

    while i < len(sig):
        tok = sig[i]
        word = tok.upper or tok.text
        i += 1
        if word in seen and word not in ("FORMAT",):
            raise UnloadError(f"conflicting or redundant options: {word} given twice")
        seen.add(word)
        if word in _REFUSED:
            raise UnloadError(f"UNLOAD option {_REFUSED[word]} is not supported by the local endpoint", "0A000")
        if word in ("CREDENTIALS", "WITH"):
            if word == "WITH":
                if (t := peek()) is None or t.upper != "CREDENTIALS":
                    raise UnloadError("syntax error at or near \"WITH\" in UNLOAD")
                i += 1
            spec.credentials.update(_credentials(value("CREDENTIALS")))
        elif word in ("ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"):
            key = {"ACCESS_KEY_ID": "aws_access_key_id", "SECRET_ACCESS_KEY": "aws_secret_access_key",
                   "SESSION_TOKEN": "token"}[word]
            spec.credentials[key] = value(word)
        elif word == "IAM_ROLE":
            spec.credentials["aws_iam_role"] = value(word)
        elif word == "REGION":
            spec.region = value(word)
        elif word in ("FORMAT", "CSV", "JSON", "PARQUET"):
            fmt = word
            if word == "FORMAT":
                if (t := peek()) is not None and t.upper == "AS":
                    i += 1
                t = peek()
                i += 1
                fmt = t.upper if t is not None else ""
            if fmt == "PARQUET":
                raise UnloadError("UNLOAD FORMAT PARQUET is not supported by the local endpoint: "
                                  "use FORMAT CSV or FORMAT JSON", "0A000")
            if fmt not in ("CSV", "JSON"):
                raise UnloadError(f"UNLOAD FORMAT {fmt or '?'} is not a valid format")
            spec.fmt = fmt.lower()
        elif word == "HEADER":
            spec.header = True
        elif word == "DELIMITER":
            spec.delimiter = value(word)
            if len(spec.delimiter) != 1:
                raise UnloadError("UNLOAD DELIMITER must be a single character")
        elif word == "NULL":
            spec.null_as = value(word)
        elif word == "ADDQUOTES":
            spec.addquotes = True
        elif word == "ESCAPE":
            spec.escape = True
        elif word == "PARALLEL":
            if (t := peek()) is not None and t.upper in ("ON", "TRUE", "OFF", "FALSE"):
                spec.parallel = t.upper in ("ON", "TRUE")
                i += 1
        elif word == "MANIFEST":
            spec.manifest = True
            if (t := peek()) is not None and t.upper == "VERBOSE":
                spec.manifest_verbose = True
                i += 1
        elif word == "ALLOWOVERWRITE":
            spec.allow_overwrite = True
        elif word == "CLEANPATH":
            spec.cleanpath = True
        elif word in ("GZIP", "BZIP2"):
            if spec.compression:
                raise UnloadError("UNLOAD accepts only one compression option")
            spec.compression = word.lower()
        elif word == "EXTENSION":
            spec.extension = value(word).lstrip(".")
        elif word == "MAXFILESIZE":
            spec.max_file_size = _size(value(word), peek())
            if (t := peek()) is not None and t.upper in ("MB", "GB"):
                i += 1
        else:
            raise UnloadError(f"UNLOAD option {word} is not supported by the local endpoint", "0A000")
    _check(spec)
    return spec


def _credentials(text: str) -> dict[str, str]:
    creds = {}
    for part in text.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            creds[key.strip().lower()] = val.strip()
    return creds


def _size(number: str, unit: Token | None) -> int:
    try:
        size = float(number)
    except ValueError:
        raise UnloadError(f"UNLOAD MAXFILESIZE {number} is not a number") from None
    size *= 1024 * MB if unit is not None and unit.upper == "GB" else MB
    if not 5 * MB <= size <= DEFAULT_MAX_FILE:
        raise UnloadError("UNLOAD MAXFILESIZE must be between 5 MB and 6.2 GB")
    return int(size)


def _check(spec: UnloadSpec) -> None:
    """The documented incompatibilities between options (r_UNLOAD)."""
    if not spec.credentials:
        raise UnloadError("UNLOAD needs authorization: IAM_ROLE, CREDENTIALS or ACCESS_KEY_ID/SECRET_ACCESS_KEY")
    if spec.fmt == "json":
        for name, used in (("DELIMITER", spec.delimiter is not None), ("HEADER", spec.header),
                           ("ADDQUOTES", spec.addquotes), ("ESCAPE", spec.escape), ("NULL AS", spec.null_as != "")):
            if used:
                raise UnloadError(f"UNLOAD FORMAT JSON cannot be used with {name}")
    if spec.fmt == "csv" and spec.addquotes:
        raise UnloadError("UNLOAD FORMAT CSV cannot be used with ADDQUOTES")
    if spec.cleanpath and spec.allow_overwrite:
        raise UnloadError("UNLOAD CLEANPATH cannot be used with ALLOWOVERWRITE")


def check_no_outer_limit(tokens: list[Token], query: str) -> None:
    """r_UNLOAD, "Limit clause": the SELECT can't use LIMIT in the outer SELECT (a nested one is fine)."""
    depth = 0
    for t in tokens:
        if t.kind == "punct" and t.text == "(":
            depth += 1
        elif t.kind == "punct" and t.text == ")":
            depth -= 1
        elif depth == 0 and t.upper == "LIMIT":
            raise UnloadError(f"Limit clause is not supported: {query[:200]}", "0A000")


def copy_statement(spec: UnloadSpec, query: str) -> str:
    """What PostgreSQL runs instead: the rows as COPY text (a header line first), or JSON lines."""
    query = query.strip().rstrip(";").strip()
    if spec.fmt == "json":
        return f"COPY (SELECT row_to_json(redshift_unload) FROM ({query}) redshift_unload) TO STDOUT"
    return f"COPY ({query}) TO STDOUT WITH (FORMAT text, HEADER true)"


def error_statement(message: str, code: str) -> str:
    """A statement that fails with this error (the UNLOAD text itself must never reach PostgreSQL)."""
    literal = "'" + message.replace("'", "''") + "'"
    return (f"DO $redshift_unload$BEGIN RAISE EXCEPTION USING ERRCODE = '{code}', MESSAGE = {literal}; "
            f"END$redshift_unload$")


# ---------------------------------------------------------------- writing the files
_TEXT_ESCAPE = re.compile(r"\\(.)", re.S)
_UNESCAPE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def parse_copy_line(line: bytes) -> list[str | None]:
    """One row of PostgreSQL's COPY text output -> values (None for NULL)."""
    text = line.decode("utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    return [None if f == "\\N" else _TEXT_ESCAPE.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(1)), f)
            for f in text.split("\t")]


def format_row(spec: UnloadSpec, values: list[str | None]) -> str:
    if spec.fmt == "json":
        return values[0] + "\n"
    sep = spec.sep
    out = []
    for v in values:
        if v is None:
            out.append(spec.null_as)
            continue
        if spec.fmt == "csv":
            if any(ch in v for ch in (sep, '"', "\n", "\r")):
                v = '"' + v.replace('"', '""') + '"'
        else:
            if spec.escape:
                specials = {"\\", "\n", "\r", sep} | ({'"', "'"} if spec.addquotes else set())
                v = "".join("\\" + ch if ch in specials else ch for ch in v)
            if spec.addquotes:
                v = f'"{v}"'
        out.append(v)
    return sep.join(out) + "\n"


@dataclass
class UnloadResult:
    files: list[tuple[str, int, int]]    # (url, bytes, rows)
    rows: int


class OutputFile:
    """One file being written: spooled body, optional compression, counts."""

    def __init__(self, suffix: str, compression: str | None):
        self.suffix = suffix
        self.body = tempfile.SpooledTemporaryFile(max_size=SPOOL)   # noqa: SIM115 - closed by UnloadJob.write
        self._out = (gzip.GzipFile(fileobj=self.body, mode="wb", mtime=0) if compression == "gzip"
                     else bz2.BZ2File(self.body, "wb") if compression == "bzip2" else self.body)
        self.size = 0          # uncompressed bytes (what MAXFILESIZE limits)
        self.rows = 0          # data rows
        self.header = False
        self.stored = 0        # bytes in S3

    def write(self, data: bytes) -> None:
        self._out.write(data)
        self.size += len(data)

    def finish(self) -> None:
        if self._out is not self.body:
            self._out.close()   # flushes the compressor; the underlying spooled file stays open
        self.stored = self.body.tell()
        self.body.seek(0)


class UnloadJob:
    """Collects the copy-out of one UNLOAD and writes it to S3 when it completes.

    Rows and output files are spooled (memory up to SPOOL bytes each, then a temporary file), so a
    large UNLOAD does not grow the endpoint's memory.
    """

    def __init__(self, spec: UnloadSpec):
        self.spec = spec
        self.buffer = tempfile.SpooledTemporaryFile(max_size=SPOOL)   # noqa: SIM115 - closed in write()

    def add(self, data: bytes) -> None:
        """One CopyData message: one row of COPY text (escaped, so exactly one line)."""
        self.buffer.write(data)

    def files(self) -> list[OutputFile]:
        """The files to write, in order (each open at position 0; the caller closes them)."""
        spec = self.spec
        self.buffer.seek(0)
        lines = iter(self.buffer)
        header = b""
        if spec.fmt != "json":
            first = next(lines, None)
            if first is not None and spec.header:
                header = format_row(spec, parse_copy_line(first)).encode()
        out: list[OutputFile] = []
        current: OutputFile | None = None
        for line in lines:
            row = format_row(spec, parse_copy_line(line)).encode()
            if current is None or (current.rows and current.size + len(row) > spec.max_file_size):
                current = self._new_file(len(out), header)
                out.append(current)
            current.write(row)
            current.rows += 1
        if not out and spec.fmt != "json":
            # "When zero rows are unloaded, Amazon Redshift might write empty Amazon S3 objects" (CSV and
            # text); JSON writes none.
            out.append(self._new_file(0, header))
        for f in out:
            f.finish()
        return out

    def _new_file(self, k: int, header: bytes) -> OutputFile:
        spec = self.spec
        suffix = f"{k:03d}" if not spec.parallel else f"0000_part_{k:02d}"
        if spec.extension:
            suffix += "." + spec.extension
        if spec.compression == "gzip" and not spec.extension.endswith("gz"):
            suffix += ".gz"
        elif spec.compression == "bzip2" and not spec.extension.endswith("bz2"):
            suffix += ".bz2"
        f = OutputFile(suffix, spec.compression)
        if header:
            f.write(header)
            f.header = True
        return f

    def write(self, client) -> UnloadResult:
        """Write the files (and the manifest) to S3; raises UnloadError with Redshift-like messages."""
        spec = self.spec
        bucket, prefix = s3source.split_url(spec.target)
        files = self.files()
        try:
            keys = [prefix + f.suffix for f in files] + ([prefix + "manifest"] if spec.manifest else [])
            if spec.cleanpath:
                _delete(client, bucket, cleanpath_keys(_list(client, bucket, prefix), prefix))
            elif not spec.allow_overwrite:
                existing = set(_list(client, bucket, prefix))
                clash = [k for k in keys if k in existing]
                if clash:
                    raise UnloadError(f"Specified unload destination on S3 is not empty. Consider using a "
                                      f"different bucket / prefix, manually removing the target files in S3, "
                                      f"or using the ALLOWOVERWRITE option. (s3://{bucket}/{clash[0]})", "XX000")
            written = []
            for f in files:
                client.upload_fileobj(f.body, bucket, prefix + f.suffix)
                written.append((f"s3://{bucket}/{prefix}{f.suffix}", f.stored, f.rows + f.header))
            if spec.manifest:
                client.put_object(Bucket=bucket, Key=prefix + "manifest", Body=self.manifest(written))
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            raise UnloadError(f"S3ServiceException: {code or e} writing to '{spec.target}'", "XX000") from e
        finally:
            for f in files:
                f.body.close()
            self.buffer.close()
        return UnloadResult(written, sum(f.rows for f in files))

    def manifest(self, written: list[tuple[str, int, int]]) -> bytes:
        if not self.spec.manifest_verbose:
            return orjson.dumps({"entries": [{"url": url} for url, _, _ in written]}, option=orjson.OPT_INDENT_2)
        doc = {
            "entries": [{"url": url, "meta": {"content_length": size, "record_count": rows}}
                        for url, size, rows in written],
            "meta": {"content_length": sum(s for _, s, _ in written),
                     "record_count": sum(r for _, _, r in written)},
            "author": {"name": "Amazon Redshift", "version": "1.0.0"},
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


# r_UNLOAD, TO 's3://object-path/name-prefix': UNLOAD appends "<slice-number>_part_<part-number>"
# (PARALLEL ON) or a file number (PARALLEL OFF: key000, key001, ...) to the name prefix, then an
# extension (EXTENSION, .gz, .bz2, .zst), and writes "<name-prefix>manifest".
_UNLOAD_NAME = re.compile(r"(?:\d{4}_part_\d{2,}|\d{3,})(?:\.[^/]*)?|manifest")


def cleanpath_keys(keys: list[str], prefix: str) -> list[str]:
    """What CLEANPATH removes: "existing files located in the Amazon S3 path specified in the TO clause".

    A TO that ends with "/" (or names the bucket) is a folder: every file in it, subfolders included
    (with PARTITION BY the page narrows this to the partition folders written). A TO that ends with a
    name prefix locates the files UNLOAD names from that prefix; another object that merely starts with
    the same characters ("data2/x", "datafile.csv" for 's3://b/data') is not at that path and stays.
    """
    if not prefix or prefix.endswith("/"):
        return [k for k in keys if k.startswith(prefix)]
    return [k for k in keys if k.startswith(prefix) and _UNLOAD_NAME.fullmatch(k[len(prefix):])]


def _delete(client, bucket: str, keys: list[str]) -> None:
    for i in range(0, len(keys), 1000):   # DeleteObjects takes at most 1,000 keys
        batch = keys[i: i + 1000]
        result = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch],
                                                              "Quiet": True})
        if result.get("Errors"):
            first = result["Errors"][0]
            raise UnloadError(f"S3ServiceException: {first.get('Code', 'error')} deleting "
                              f"'s3://{bucket}/{first.get('Key', '')}' for CLEANPATH", "XX000")


def _list(client, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys
