"""Reading one large S3 object in bounded memory: a decompressing byte stream and a record splitter.

The relay never holds a whole large object: it reads READ_BYTES at a time and cuts the stream into
record-aligned chunks of about CHUNK_BYTES, which the worker pool converts (loader.py keeps at most
COPY_MEMORY_BYTES of them in flight). A record is never cut: a chunk ends at a newline that ends a
record (CSV: outside quotes; ESCAPE: not escaped), or, for JSON values spread over several lines,
after a top-level object or array closes. A single record larger than RECORD_BYTES fails the COPY
("Data format parameters": the maximum size of a single JSON object or array is 4 MB, and so is a
row), so no input can make the splitter buffer without bound.
"""

from __future__ import annotations

import bz2
import gzip
import json
import re

from botocore.exceptions import ClientError

from redshift_endpoint import s3source
from redshift_endpoint.convert import record_end
from redshift_endpoint.limits import RECORD_BYTES
from redshift_endpoint.load_spec import LoadSpec

READ_BYTES = 1 << 20     # one read from S3 (or from the decompressor)
CHUNK_BYTES = 4 << 20    # conversion unit: a record-aligned chunk of about this size


class RecordTooLarge(Exception):
    """A record over RECORD_BYTES: Redshift fails the COPY (it is not a bad record)."""

    def __init__(self, line: int, size: int, json: bool):
        what = "JSON object or array" if json else "row"
        super().__init__(f"the {what} starting at line {line} is larger than {size:,} bytes; the maximum size "
                         f"of a single {what} is 4 MB ({RECORD_BYTES:,} bytes)")
        self.line, self.size = line, size


def open_object(client, url: str, compression: str | None):
    """A readable (``.read(n)``) over the object's body, decompressed on the fly."""
    bucket, key = s3source.split_url(url)
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        raise s3source.S3LoadError(f"S3ServiceException: {code or e} reading '{url}'") from e
    return decompressing(body, compression)


def decompressing(raw, compression: str | None):
    """``raw`` (anything with ``read(n)`` and ``close()``), decompressed as it is read."""
    if compression == "gzip":
        # multi-member files too, like gzip.decompress
        return _ClosingBoth(gzip.GzipFile(fileobj=raw, mode="rb"), raw)
    if compression == "bzip2":
        return _ClosingBoth(bz2.BZ2File(raw, "rb"), raw)
    return raw


class _ClosingBoth:
    """A decompressor whose close() also closes the body under it (gzip/bz2 leave it open)."""

    def __init__(self, outer, inner):
        self.outer, self.inner = outer, inner

    def read(self, n: int = -1) -> bytes:
        return self.outer.read(n)

    def close(self) -> None:
        try:
            self.outer.close()
        finally:
            self.inner.close()


class Prefixed:
    """Bytes already read from a stream, then the rest of it."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            out, self.head = (self.head, b"") if n < 0 or n >= len(self.head) else \
                (self.head[:n], self.head[n:])
            return out
        return self.rest.read(n)

    def close(self) -> None:
        self.rest.close()


def check_lines(data: bytes, first_line: int, json: bool) -> None:
    """Raise RecordTooLarge if a line of ``data`` is over RECORD_BYTES (its record is at least as long)."""
    if len(data) <= RECORD_BYTES:
        return   # only data longer than the limit can hold an over-long line
    pos, line = 0, first_line
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl
        if end - pos > RECORD_BYTES:
            raise RecordTooLarge(line, end - pos, json)
        pos, line = end + 1, line + 1


# A JSON string on one line (escapes included; JSON strings hold no raw newline), a lone quote (a
# string not closed on its line, or not read to its end yet), a bracket, a newline.
_JSON_TOKEN = re.compile(rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|"|[\[\]{}]|\n')
_JSON_DECODER = json.JSONDecoder()


class RecordSplitter:
    """Cuts a byte stream into record-aligned chunks: ``feed`` data, ``pop`` chunks.

    ``structural``: JSON whose values may span lines (found when a chunk is not one value per line);
    chunks then end after a top-level value, found by a scan of strings and brackets.
    """

    def __init__(self, spec: LoadSpec, *, structural: bool = False, data: bytes = b"", line: int = 1,
                 size: int = CHUNK_BYTES):
        self.spec, self.structural, self.size = spec, structural, size
        self.json = spec.fmt == "json"
        self.quote = (spec.quote or '"').encode() if spec.fmt == "csv" else None
        self.escape = spec.fmt == "text" and spec.escape
        self.buf = data
        self.parts: list[bytes] = []
        self.held = len(data)
        self.line = line
        # structural scan state, as offsets into buf
        self.scan = 0
        self.depth = 0
        self.record_start = 0

    @property
    def pending(self) -> bytes:
        """Everything fed and not yet popped."""
        return b"".join([self.buf, *self.parts])

    def feed(self, data: bytes) -> None:
        self.parts.append(data)
        self.held += len(data)

    def pop(self, eof: bool) -> tuple[bytes, int] | None:
        """The next complete chunk and the line it starts at, or None until more data is fed."""
        if not self.held or (self.held < self.size and not eof):
            return None
        if self.parts:
            self.buf = b"".join([self.buf, *self.parts])
            self.parts = []
        end = self._structural_end(eof) if self.structural else self._line_end()
        if end < 0:
            if not eof:
                self._check_open_record()
                return None
            end = len(self.buf)
        chunk, self.buf = self.buf[:end], self.buf[end:]
        self.held = len(self.buf)
        first, self.line = self.line, self.line + chunk.count(b"\n")
        if self.structural:
            self.scan, self.record_start = max(self.scan - end, 0), max(self.record_start - end, 0)
        else:
            check_lines(chunk, first, self.json)
        return chunk, first

    def _check_open_record(self) -> None:
        # No record ends after `size`: the record spanning it started before `size`.
        start = self.record_start if self.structural else self.size
        if len(self.buf) - start > RECORD_BYTES:
            line = self.line + self.buf.count(b"\n", 0, max(start, 0))
            raise RecordTooLarge(line, len(self.buf) - start, self.json)

    def _line_end(self) -> int:
        """End (exclusive) of the first record-ending newline at or after ``size``, or -1."""
        return record_end(self.buf, 0, self.size, self.quote, self.escape)

    def _structural_end(self, eof: bool) -> int:
        """End of the first top-level JSON value (or depth-0 line) ending at or after ``size``, or -1."""
        data = self.buf
        for m in _JSON_TOKEN.finditer(data, self.scan):
            tok = m.group()
            if tok == b'"':
                # A quote whose string does not close on its line: malformed, unless the line is
                # not all read yet.
                if self.depth and data.find(b"\n", m.end()) < 0:
                    self.scan = m.start()
                    return self._resync() if len(data) - self.record_start > RECORD_BYTES else -1
                continue
            self.scan = m.end()
            if tok == b"\n":
                if self.depth == 0:
                    end = m.end()
                    self.record_start = end
                    if end >= self.size:
                        return end
                continue
            if tok in (b"{", b"["):
                if self.depth == 0:
                    self.record_start = m.start()
                self.depth += 1
            elif tok in (b"}", b"]"):
                self.depth = max(self.depth - 1, 0)
                if self.depth == 0:
                    end = m.end()
                    if end - self.record_start > RECORD_BYTES:
                        raise RecordTooLarge(self._line_at(self.record_start), end - self.record_start, True)
                    self.record_start = end
                    if end >= self.size:
                        return end
            if self.depth and m.end() - self.record_start > RECORD_BYTES:
                return self._resync()
        self.scan = len(data)
        if len(data) - self.record_start > RECORD_BYTES:
            if self.depth == 0:   # a line with no value that closes: as long as a record
                raise RecordTooLarge(self._line_at(self.record_start), len(data) - self.record_start, True)
            return self._resync()
        return -1

    def _line_at(self, pos: int) -> int:
        return self.line + self.buf.count(b"\n", 0, pos)

    def _resync(self) -> int:
        """An open value over RECORD_BYTES: too large if it is valid JSON so far, else a bad record.

        A malformed value (an unbalanced bracket, a string that does not close) keeps the scan at
        depth > 0. The whole-object converter reports such a value at its first line and resumes
        decoding on the next line: cut there, so the chunk's converter does the same.
        """
        start = self.record_start
        text = self.buf[start:].decode("utf-8", "surrogateescape")
        try:
            _JSON_DECODER.raw_decode(text)
        except json.JSONDecodeError as e:
            # Valid so far when the error is at the end of the data, or is a string still open
            # there (JSON strings hold no newline): then the value is just long.
            incomplete = e.pos >= len(text) - 1 or (e.msg.startswith("Unterminated string")
                                                     and "\n" not in text[e.pos:])
            if not incomplete:
                nl = self.buf.find(b"\n", start)
                if 0 <= nl:
                    self.depth, self.scan = 0, nl + 1
                    self.record_start = nl + 1
                    return nl + 1
        raise RecordTooLarge(self._line_at(start), len(self.buf) - start, True)
