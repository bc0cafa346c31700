"""Turn S3 object bytes (JSON 'auto' / jsonpaths / CSV / delimited text) into PostgreSQL COPY rows.

Rows are CSV unless the load qualifies for binary COPY (``LoadSpec.binary``; the field encodings
are in binary.py, the validation below is shared by both).

Runs in worker processes, so everything here is plain picklable data and pure functions. CSV rows are
written as COPY ... WITH (FORMAT csv): NULL is an empty unquoted field and every string is quoted,
so an empty string (``""``) stays distinct from NULL. Python's csv.writer cannot express that
difference, hence the fields are written here.

Per load, a row converter is generated (``compile_converter``) with one inlined block per target
column: it is the hot loop of a million-row load and inlining roughly halves its cost.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import re
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation

import orjson

from redshift_endpoint import binary, timefmt
from redshift_endpoint.load_spec import Column, FieldError, LoadSpec, fits

_INT_RANGE = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_EPOCH = datetime(1970, 1, 1)
_EPOCH_TZ = datetime(1970, 1, 1, tzinfo=UTC)
_JSON_DECODER = json.JSONDecoder()
RAW_LINE_MAX = 1024  # Redshift keeps the first 1024 characters of the bad line


@dataclass
class RowError:
    filename: str
    line_number: int
    colname: str
    raw_line: str
    err_reason: str
    raw_field_value: str = ""
    err_code: int = 1200


@dataclass
class UnitResult:
    """Converted rows of one object (or one chunk of it) plus its bad records."""
    data: bytes = b""
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    lines: array = field(default_factory=lambda: array("I"))   # source line of each output row
    needs_whole_object: bool = False
    fatal: str | None = None     # an error that fails the whole COPY (e.g. a JSONPath index out of range)


# ---------------------------------------------------------------- jsonpaths
# Rules from "Data format parameters" (JSONPaths file, JSONPath expressions) and "COPY from JSON
# format": bracket notation $['a'][0] or dot notation $.a[0], never both in one file; brackets
# index arrays in both; dot names exclude ' . [ ]; indexes are integers >= 0; no wildcards or
# filters; the file is one JSON object {"jsonpaths": [non-empty strings]} (another single key:
# COPY uses 'auto' instead); an index past the end of an array fails the whole COPY.

_DOT_NAME = re.compile(r"\.([^'.\[\]]+)")
_BRACKET_NAME = re.compile(r"""\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]""")
_INDEX = re.compile(r"\[\s*(\d+)\s*\]")
INDEX_ERROR = "Invalid JSONPath format: Not an array or index out of range."


class JsonPathsError(ValueError):
    """The JSONPaths file breaks one of Redshift's rules: the COPY fails, nothing is loaded."""


class JsonPathIndexError(LookupError):
    """A record lacks the array element a JSONPath names: Redshift fails the whole COPY."""


def parse_jsonpath(expr: str) -> tuple[tuple[str | int, ...], set[str]]:
    """``$['a']['b'][0]`` or ``$.a.b[0]`` -> (('a', 'b', 0), notations used: {'bracket'|'dot'})."""
    if not isinstance(expr, str) or not expr.strip():
        raise JsonPathsError("Invalid JSONPath format: An array element is an empty string or is not a string.")
    expr = expr.strip()
    if "*" in expr or "[?" in expr or ".." in expr or "@" in expr:
        raise JsonPathsError(f"Invalid JSONPath format: wildcards and filter expressions are not supported: {expr}")
    if not expr.startswith("$"):
        raise JsonPathsError(f"Invalid JSONPath format: the expression must start with '$': {expr}")
    pos, parts, notations = 1, [], set()
    while pos < len(expr):
        if m := _INDEX.match(expr, pos):
            parts.append(int(m.group(1)))
        elif m := _BRACKET_NAME.match(expr, pos):
            parts.append(m.group(1) if m.group(1) is not None else m.group(2))
            notations.add("bracket")
        elif m := _DOT_NAME.match(expr, pos):
            parts.append(m.group(1))
            notations.add("dot")
        else:
            raise JsonPathsError(f"Invalid JSONPath format: cannot parse {expr!r} at position {pos}")
        pos = m.end()
    if not parts:
        raise JsonPathsError(f"Invalid JSONPath format: {expr!r} names no element")
    if len(notations) > 1:
        raise JsonPathsError(f"Invalid JSONPath format: {expr!r} mixes bracket notation and dot notation")
    return tuple(parts), notations


def parse_jsonpaths_file(data: bytes) -> tuple[tuple[str | int, ...], ...] | None:
    """The paths of a JSONPaths file, or None when its single key is not "jsonpaths" ('auto')."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise JsonPathsError(f"Invalid JSONPath format: the JSONPaths file is not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise JsonPathsError("Invalid JSONPath format: the JSONPaths file must contain a single JSON object")
    if len(doc) != 1:
        raise JsonPathsError("Invalid JSONPath format: the JSONPaths file must contain a single name/value pair")
    if "jsonpaths" not in doc:
        return None  # documented: COPY then ignores the file and uses 'auto'
    exprs = doc["jsonpaths"]
    if not isinstance(exprs, list):
        raise JsonPathsError("Invalid JSONPath format: the value of \"jsonpaths\" must be an array")
    paths, notations = [], set()
    for expr in exprs:
        path, used = parse_jsonpath(expr)
        paths.append(path)
        notations |= used
    if len(notations) > 1:
        raise JsonPathsError("Invalid JSONPath format: bracket notation and dot notation cannot be mixed")
    return tuple(paths)


def _get_path(obj: object, path: tuple[str | int, ...]) -> object:
    for part in path:
        if obj is None:
            return None
        if isinstance(part, int):
            if not isinstance(obj, list) or part >= len(obj):
                raise JsonPathIndexError(INDEX_ERROR)
            obj = obj[part]
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
    return obj


# ---------------------------------------------------------------- value conversion (slow paths)

def _quote(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _epoch_text(v: object, unit_ms: bool, tz: bool) -> str:
    if isinstance(v, str):
        v = v.strip()
        if not v:
            return ""
        try:
            v = float(v) if "." in v else int(v)
        except ValueError as e:
            raise FieldError(f"Invalid timestamp format or value [{v}]", 1206, v) from e
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise FieldError("Invalid timestamp format or value", 1206, v)
    delta = timedelta(milliseconds=v) if unit_ms else timedelta(seconds=v)
    return ((_EPOCH_TZ if tz else _EPOCH) + delta).isoformat(" ")


def make_slow_converter(col: Column, spec: LoadSpec):
    """A function value -> CSV field text (raises FieldError); used for non-trivial values."""
    kind = col.kind

    def text_value(v: object) -> str:
        if isinstance(v, str):
            s = v
        elif isinstance(v, bool):
            s = "true" if v else "false"
        elif isinstance(v, int | float):
            s = repr(v)
        else:
            s = orjson.dumps(v).decode()
        if spec.trim_blanks:
            s = s.rstrip(" \t")
        if spec.empty_as_null and s == "":
            return ""
        if spec.blanks_as_null and s.strip() == "":
            return ""
        if col.single_byte and not s.isascii():
            # "Multibyte character load errors": CHAR takes single-byte characters only, error 1220.
            bad = " ".join(c.encode("utf-8", "surrogatepass").hex() for c in s if not c.isascii())
            raise FieldError(f"Multibyte character not supported for CHAR (Hint: Try using VARCHAR). "
                             f"Invalid char: {bad}", 1220, s)
        if col.maxlen is not None and len(s) > col.maxlen // 4:   # under n/4 characters always fits
            b = s.encode("utf-8", "surrogatepass")
            if len(b) > col.maxlen:
                # Lengths are bytes (r_Character_types); TRUNCATECOLUMNS cuts at the last whole
                # character that fits (copy-parameters-data-conversion).
                if not spec.truncate_columns:
                    raise FieldError("String length exceeds DDL length", 1204, s)
                s = b[: col.maxlen].decode("utf-8", "ignore")
        return _quote(s)

    def int_value(v: object) -> str:
        if isinstance(v, bool):
            raise FieldError("Invalid digit, Value 'b', Type: Integer", 1207, v)
        if isinstance(v, float):
            if not v.is_integer():
                raise FieldError(f"Invalid digit, Value '.', Type: Integer [{v!r}]", 1207, v)
            v = int(v)
        if isinstance(v, str):
            s = v.strip()
            if not s:
                return ""
            try:
                v = int(s)
            except ValueError:
                try:
                    f = float(s)
                except ValueError:
                    raise FieldError(f"Invalid digit, Value '{s[:20]}', Type: Integer", 1207, v) from None
                if not f.is_integer():
                    raise FieldError(f"Invalid digit, Value '{s[:20]}', Type: Integer", 1207, v) from None
                v = int(f)
        if not isinstance(v, int):
            raise FieldError("Invalid digit, Type: Integer", 1207, v)
        limit = _INT_RANGE[kind]
        if not -limit <= v < limit:
            raise FieldError(f"Overflow, Value '{v}', Type: {kind}", 1216, v)
        return str(v)

    def num_value(v: object) -> str:
        if isinstance(v, bool):
            raise FieldError("Invalid digit, Type: Numeric", 1207, v)
        if isinstance(v, int | float):
            s = repr(v)
        elif isinstance(v, str):
            s = v.strip()
            if not s:
                return ""
            try:
                float(s)
            except ValueError:
                raise FieldError(f"Invalid digit, Value '{s[:20]}', Type: Numeric", 1207, v) from None
        else:
            raise FieldError("Invalid digit, Type: Numeric", 1207, v)
        if col.scale is not None and not spec.round_dec:
            # "ROUNDEC": by default COPY truncates values to the column's scale (20.259 -> 20.25
            # in DECIMAL(8,2)); PostgreSQL would round, which is what ROUNDEC asks for.
            try:
                d = Decimal(s)
            except InvalidOperation:
                raise FieldError(f"Invalid digit, Value '{s[:20]}', Type: Numeric", 1207, v) from None
            if d.is_finite() and d.as_tuple().exponent < -col.scale:
                s = str(d.quantize(Decimal(1).scaleb(-col.scale), rounding=ROUND_DOWN))
        return s

    def bool_value(v: object) -> str:
        if isinstance(v, bool):
            return "t" if v else "f"
        if isinstance(v, int) and v in (0, 1):
            return "t" if v else "f"
        if isinstance(v, str):
            s = v.strip().lower()
            if not s:
                return ""
            if s in ("t", "true", "1", "y", "yes", "f", "false", "0", "n", "no", "on", "off"):
                return s
        raise FieldError("Invalid boolean value", 1208, v)

    fmt = spec.dateformat if kind == "date" else spec.timeformat
    what = "date" if kind == "date" else "timestamp"
    # Redshift words the default timestamp format as "[YYYY-MM-DD HH24:MI:SS]" in its load errors.
    shown = fmt or (timefmt.DEFAULT_DATE if kind == "date" else "YYYY-MM-DD HH24:MI:SS")

    def time_value(v: object) -> str:
        if fmt in ("epochmillisecs", "epochsecs") and kind in ("ts", "tstz"):
            return _epoch_text(v, fmt == "epochmillisecs", kind == "tstz")
        if not isinstance(v, str):
            # A JSON number is no date: 'auto' and format strings do not read epoch values.
            raise FieldError(f"Invalid {what} format or value [{shown}]", 1205 if kind == "date" else 1206, v)
        s = v.strip()
        if not s:
            return ""
        if fmt == "auto" or kind == "time":
            return _quote(s)   # 'auto': PostgreSQL's own recognition (the documented CAST behaviour)
        try:
            if kind == "date":
                return timefmt.parse_date(fmt, s)
            if kind == "ts":
                return timefmt.parse_timestamp(fmt, s)
            return timefmt.parse_timestamptz(s)   # tstz: the default format (a custom one is refused)
        except ValueError:
            if spec.accept_any_date and kind in ("date", "ts"):
                return ""   # "ACCEPTANYDATE": inserts NULL when the value does not match the format
            raise FieldError(f"Invalid {what} format or value [{shown}]", 1205 if kind == "date" else 1206,
                             v) from None

    def json_value(v: object) -> str:
        return _quote(orjson.dumps(v).decode())

    def other_value(v: object) -> str:
        if isinstance(v, str):
            return _quote(v)
        return _quote(orjson.dumps(v).decode())

    return {
        "text": text_value, "int2": int_value, "int4": int_value, "int8": int_value, "num": num_value,
        "bool": bool_value, "ts": time_value, "tstz": time_value, "date": time_value, "time": time_value,
        "json": json_value,
    }.get(kind, other_value)


# ---------------------------------------------------------------- generated row converter

def _getter(i: int, spec: LoadSpec, arrays: bool = False) -> str:
    """Expression reading the i-th target value from the record ``o`` (``g`` is ``o.get``)."""
    if spec.fmt != "json":
        return f"o[{i}]"
    if spec.json_mode == "paths":
        path = spec.paths[i]
        if len(path) == 1 and isinstance(path[0], str) and not arrays:
            return f"g({path[0]!r})"
        return f"GP(o, P[{i}])"
    return f"g({spec.columns[i].name!r})"


def _field_expr(i: int, col: Column, spec: LoadSpec, arrays: bool = False) -> str:
    """One CSV field as a single expression: common value types inline, the rest via C[i]."""
    v = f"(v := {_getter(i, spec, arrays)})"
    slow = f"('' if v is None else C[{i}](v))"
    plain_text = not (spec.empty_as_null or spec.blanks_as_null or spec.trim_blanks)
    if col.kind == "text" and plain_text:
        return f"""(('"' + v.replace('"', '""') + '"') if {v}.__class__ is str and {fits(col)} else {slow})"""
    if col.kind in _INT_RANGE:
        lim = _INT_RANGE[col.kind]
        # JSON often carries ids as digit strings ("userId": "39"): pass those through as well.
        digits = len(str(lim)) - 1
        return (f"(str(v) if {v}.__class__ is int and {-lim} <= v < {lim} else (v if v.__class__ is str"
                f" and len(v) <= {digits} and v.isdigit() and v.isascii() else {slow}))")
    if col.kind == "num" and col.scale is None:
        return f"(repr(v) if {v}.__class__ is float or v.__class__ is int else {slow})"
    if col.kind == "ts" and (spec.timeformat or "").lower() == "epochmillisecs":
        return f"(TS(v) if {v}.__class__ is int and v >= 0 else {slow})"
    return f"(C[{i}](v) if {v} is not None else '')"


_MINUTES: dict[int, str] = {}


def _ts_millis(ms: int) -> str:
    """Epoch milliseconds -> 'YYYY-MM-DD HH:MM:SS.mmm', formatting each minute once (hot path)."""
    minute, rest = divmod(ms, 60000)
    prefix = _MINUTES.get(minute)
    if prefix is None:
        if len(_MINUTES) > 200_000:
            _MINUTES.clear()
        prefix = _MINUTES[minute] = (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M:")
    sec, milli = divmod(rest, 1000)
    return f"{prefix}{sec:02d}.{milli:03d}"


def compile_converter(spec: LoadSpec, arrays: bool = False):
    """Build ``convert(o)``: one CSV line (str, without newline) or one binary COPY tuple (bytes).

    ``arrays``: for records that are JSON arrays (JSONPaths only), every value is read by path.
    Raises (AttributeError, FieldError, ...) on a bad record; the caller then locates the column.
    """
    lines = ["def convert(o):"]
    if spec.fmt == "json" and spec.json_mode == "ignorecase":
        lines.append("    o = {k.lower(): x for k, x in o.items()}")
    if spec.fmt == "json" and not arrays:
        lines.append("    g = o.get")
    text_converters = [make_slow_converter(c, spec) for c in spec.columns]
    namespace = {"C": text_converters, "GP": _get_path, "P": spec.paths, "TS": _ts_millis}
    if spec.binary:
        namespace.update(binary.namespace(spec, text_converters))
        # One join per row: cheaper than chaining ``+`` (each step would copy the row so far).
        fields = ", ".join(binary.field_expr(i, c, spec, _getter(i, spec, arrays))
                           for i, c in enumerate(spec.columns))
        lines.append(f"    return b''.join((HEAD, {fields}))")
    else:
        fields = ", ".join(_field_expr(i, c, spec, arrays) for i, c in enumerate(spec.columns))
        lines.append(f"    return ','.join(({fields},))" if spec.columns else "    return ''")
    exec(compile("\n".join(lines), "<endpoint-row-converter>", "exec"), namespace)  # noqa: S102
    return namespace["convert"]


def _locate_error(o: object, spec: LoadSpec) -> tuple[str, FieldError]:
    """Re-run a failed record column by column to name the column and the reason."""
    for i, col in enumerate(spec.columns):
        try:
            if spec.fmt == "json":
                if spec.json_mode == "paths":
                    v = _get_path(o, spec.paths[i])
                else:
                    v = o.get(col.name)  # type: ignore[union-attr]
            else:
                v = o[i]  # type: ignore[index]
            if v is not None:
                convert = make_slow_converter(col, spec)
                (binary.make_slow(col, spec, convert) if spec.binary else convert)(v)
        except FieldError as e:
            return col.name, e
        except JsonPathIndexError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure is a bad record, reported as such
            return col.name, FieldError(str(e))
    return "", FieldError("Invalid record")


# ---------------------------------------------------------------- object conversion

class _Converter:
    def __init__(self, spec: LoadSpec, filename: str):
        self.spec = spec
        self.filename = filename
        self.convert = compile_converter(spec)
        self._convert_array = None
        self.out: list[str] = []
        self.lines = array("I")
        self.errors: list[RowError] = []
        self.lower = spec.fmt == "json" and spec.json_mode == "ignorecase"
        self.fatal: str | None = None

    def record(self, o: object, line_no: int, raw: str | bytes) -> None:
        spec = self.spec
        convert = self.convert
        if spec.fmt == "json":
            if isinstance(o, list) and spec.json_mode == "paths":
                # "COPY from JSON format": one JSON array per record, mapped by $[0], $[1], ...
                if self._convert_array is None:
                    self._convert_array = compile_converter(spec, arrays=True)
                convert = self._convert_array
            elif not isinstance(o, dict):  # e.g. a scalar, or an array without a JSONPaths file
                self.error(line_no, raw, "", FieldError(
                    "Invalid JSONPath format: record is not a JSON object or array" if spec.json_mode == "paths"
                    else "Invalid JSON object: not an object (JSON arrays need a JSONPaths file)", 1224))
                return
            elif self.lower:
                o = {k.lower(): v for k, v in o.items()}
        try:
            self.out.append(convert(o))
            self.lines.append(line_no)
        except JsonPathIndexError as e:
            self.fatal = str(e)
        except Exception:  # noqa: BLE001 - locate the column, record the bad record
            try:
                col, err = _locate_error(o, spec)
            except JsonPathIndexError as e:
                self.fatal = str(e)
                return
            self.error(line_no, raw, col, err)

    def error(self, line_no: int, raw: str | bytes, col: str, err: FieldError) -> None:
        raw = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else _printable(raw)
        value = "" if err.value is None else _printable(str(err.value)[:1024])
        self.errors.append(RowError(self.filename, line_no, col, raw[:RAW_LINE_MAX], err.reason, value, err.code))

    def result(self) -> UnitResult:
        if self.fatal is not None:
            return UnitResult(fatal=self.fatal)
        if self.spec.binary:
            return UnitResult(b"".join(self.out), len(self.out), self.errors, self.lines)
        data = ("\n".join(self.out) + "\n").encode() if self.out else b""
        return UnitResult(data, len(self.out), self.errors, self.lines)


def decompress(data: bytes, compression: str | bool | None) -> bytes:
    """GZIP / BZIP2 as the COPY says (True means gzip, for older callers)."""
    if compression in (True, "gzip"):
        return gzip.decompress(data)
    if compression == "bzip2":
        return bz2.decompress(data)
    return data


def skip_header(data: bytes, first_line: int, ignore_header: int) -> tuple[bytes, int]:
    """Drop the lines of ``data`` (starting at ``first_line`` of its object) that IGNOREHEADER skips.

    Only lines 1..ignore_header of the object are dropped: a chunk that starts later keeps all of
    its lines (skipping per chunk lost one row per chunk).
    """
    pos = 0
    while first_line <= ignore_header and pos < len(data):
        nl = data.find(b"\n", pos)
        pos = len(data) if nl < 0 else nl + 1
        first_line += 1
    return data[pos:], first_line


def convert_unit(spec: LoadSpec, filename: str, data: bytes, first_line: int = 1, whole: bool = True,
                 gz: str | bool | None = None) -> UnitResult:
    """Convert one object (or a record-aligned chunk of one, ``whole=False``; see split_chunks)."""
    data = decompress(data, gz)
    if spec.ignore_header:
        data, first_line = skip_header(data, first_line, spec.ignore_header)
    conv = _Converter(spec, filename)
    if spec.fmt == "json":
        if not _json_lines(conv, data, first_line, whole):
            return UnitResult(needs_whole_object=True)
    else:
        _delimited(conv, data, first_line)
    return conv.result()


def _json_lines(conv: _Converter, data: bytes, first_line: int, whole: bool) -> bool:
    """Fast path: one JSON value per line. On the first line that isn't, fall back to streaming.

    A chunk of a larger object cannot fall back (a value may continue in the next chunk): it
    returns False and the caller converts the whole object instead.
    """
    loads, convert = orjson.loads, conv.convert
    out, lines = conv.out.append, conv.lines.append
    pos = 0
    line_no = first_line - 1
    for line in data.split(b"\n"):
        line_no += 1
        if line:
            try:
                obj = loads(line)
            except orjson.JSONDecodeError:
                if line.isspace():
                    pos += len(line) + 1
                    continue
                if not whole:
                    return False
                _json_stream(conv, data, pos, line_no)
                return True
            try:
                out(convert(obj))
                lines(line_no)
            except Exception:  # noqa: BLE001 - the slow path names the column and the reason
                conv.record(obj, line_no, line)
                if conv.fatal is not None:
                    return True
        pos += len(line) + 1
    return True


def _json_stream(conv: _Converter, data: bytes, start: int, line_no: int) -> None:
    """Slow path: a raw_decode loop over the text; objects may span lines or share one line.

    A value that does not parse is recorded as a bad record for its line, and decoding resumes
    on the next line.
    """
    text, bad_utf8 = _decode(data[start:], conv.spec.accept_inv_chars)
    pos, n = 0, len(text)
    counted = 0  # text position up to which newlines were counted into line_no
    ws = re.compile(r"\s*")
    while conv.fatal is None:
        pos = ws.match(text, pos).end()
        if pos >= n:
            break
        line_no += text.count("\n", counted, pos)
        counted = pos
        line_end = text.find("\n", pos)
        raw_line = text[pos: line_end if line_end >= 0 else n]
        try:
            obj, end = _JSON_DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            conv.error(line_no, _printable(raw_line), "", FieldError(f"Invalid JSON object: {e.msg}", 1224))
            if line_end < 0:
                break
            pos = line_end + 1
            continue
        if bad_utf8 and _SURROGATES.search(text, pos, end):
            conv.error(line_no, _printable(raw_line), "", FieldError(INVALID_UTF8, 1220))
        else:
            conv.record(obj, line_no, raw_line)
        pos = end


# Without ACCEPTINVCHARS (refused), Redshift fails a record holding invalid UTF-8 ("Multibyte
# character load errors"): bytes that do not decode are kept as surrogates to find those records.
INVALID_UTF8 = "String contains invalid or unsupported UTF8 codepoints"
_SURROGATES = re.compile("[\udc80-\udcff]")


def _decode(data: bytes, replacement: str | None = None) -> tuple[str, bool]:
    """Text, and whether it holds invalid bytes (as surrogates; with ACCEPTINVCHARS: replaced)."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        text = data.decode("utf-8", "surrogateescape")
        if replacement is not None:
            # "ACCEPTINVCHARS": each invalid byte becomes the replacement character.
            return _SURROGATES.sub(replacement, text), False
        return text, True


def _printable(text: str) -> str:
    """A raw line for stl_load_errors: invalid bytes shown as U+FFFD (PostgreSQL stores UTF-8 only)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _delimited(conv: _Converter, data: bytes, first_line: int) -> None:
    """CSV (RFC 4180 quoting) or Redshift's default delimited text (no quoting; ESCAPE: backslash)."""
    spec = conv.spec
    text, bad_utf8 = _decode(data, spec.accept_inv_chars)
    delimiter = spec.delimiter or ("," if spec.fmt == "csv" else "|")
    if spec.fmt == "csv":
        reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=spec.quote or '"')
    else:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=csv.QUOTE_NONE,
                            escapechar="\\" if spec.escape else None)
    ncols = len(spec.columns)
    # "NULL AS": the default null string is \N (Data conversion parameters).
    null_as = spec.null_as if spec.null_as is not None else "\\N"
    for row in reader:
        line_no = first_line + reader.line_num - 1
        if not row:
            # A line holding only a line feed: skipped with IGNOREBLANKLINES, else a record of one
            # empty field (as Redshift reads it).
            if spec.ignore_blank_lines:
                continue
            row = [""]
        if len(row) < ncols and spec.fill_record:
            row = row + [""] * (ncols - len(row))
        if len(row) != ncols:
            reason = "Extra column(s) found" if len(row) > ncols else "Delimiter not found"
            conv.error(line_no, delimiter.join(row), "", FieldError(reason, 1214))
            continue
        raw = delimiter.join(row)
        if bad_utf8 and _SURROGATES.search(raw):
            conv.error(line_no, _printable(raw), "", FieldError(INVALID_UTF8, 1220))
            continue
        if null_as is not None:
            row = [None if f == null_as else f for f in row]
        conv.record(row, line_no, raw)


def record_end(data: bytes, pos: int, size: int, quote: bytes | None, escape: bool) -> int:
    """End (exclusive) of the first record-ending newline at or after ``pos + size``, or -1.

    For CSV (``quote`` given), a newline outside a quoted field: an even number of quote characters
    since ``pos`` (RFC 4180 doubles quotes inside quoted fields); with ``escape``, a newline not
    escaped by a backslash.
    """
    end = data.find(b"\n", min(pos + size, len(data)))
    quotes = data.count(quote, pos, end) if quote is not None and end >= 0 else 0
    while end >= 0:
        if quote is not None and quotes % 2:
            nxt = data.find(b"\n", end + 1)
            if nxt >= 0:
                quotes += data.count(quote, end, nxt)
            end = nxt
            continue
        if escape:
            k = end
            while k > pos and data[k - 1] == 0x5C:
                k -= 1
            if (end - k) % 2:
                end = data.find(b"\n", end + 1)
                continue
        break
    return end + 1 if end >= 0 else -1


def split_chunks(data: bytes, size: int, spec: LoadSpec | None = None) -> list[tuple[bytes, int]]:
    """Record-aligned chunks of about ``size`` bytes with the line number each starts at
    (each ends where :func:`record_end` says a record ends)."""
    quote = (spec.quote or '"').encode() if spec is not None and spec.fmt == "csv" else None
    escape = spec is not None and spec.fmt == "text" and spec.escape
    chunks, pos, line, n = [], 0, 1, len(data)
    while pos < n:
        end = record_end(data, pos, size, quote, escape)
        end = n if end < 0 else end
        chunk = data[pos:end]
        chunks.append((chunk, line))
        line += chunk.count(b"\n")
        pos = end
    return chunks
