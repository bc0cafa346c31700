"""COPY of objects larger than the relay's memory budget: streamed in record-aligned chunks.

Unit tests of the splitter (s3stream.py) against the whole-object conversion, and integration tests
through the real endpoint process, PostgreSQL and the moto server, with the relay's RSS measured.
The 4 MB record limit is the Developer Guide's: "The maximum size of a single JSON object or array,
including braces or brackets, is 4 MB ... If the maximum size of a single JSON object or array is
exceeded, even if the resulting row size is less than the 4 MB row-size limit, the COPY command fails"
(https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html).
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from redshift_endpoint import s3stream
from redshift_endpoint.convert import convert_unit
from redshift_endpoint.limits import COPY_MEMORY_BYTES, RECORD_BYTES
from redshift_endpoint.load_spec import Column, LoadSpec
from redshift_endpoint.loader import WORKER_FETCH_BYTES
from redshift_endpoint.s3stream import RecordSplitter, RecordTooLarge
from tests.endpoint.endpoint_helpers import CREDS, pg, rows, unique

MB = 1 << 20
JSON_SPEC = LoadSpec((Column("id", "int4"), Column("body", "text")), fmt="json", json_mode="auto")


def split(spec: LoadSpec, data: bytes, *, structural: bool = False, size: int = 64, read: int = 7):
    """Feed ``data`` ``read`` bytes at a time; every chunk the splitter pops."""
    splitter = RecordSplitter(spec, structural=structural, size=size)
    out, pos, eof = [], 0, False
    while True:
        unit = splitter.pop(eof)
        if unit is not None:
            out.append(unit)
        elif eof:
            return out
        elif pos < len(data):
            splitter.feed(data[pos: pos + read])
            pos += read
        else:
            eof = True


def assert_same_as_whole(spec: LoadSpec, data: bytes, chunks, whole_chunks: bool) -> None:
    assert len(chunks) > 1 and b"".join(c for c, _ in chunks) == data
    whole = convert_unit(spec, "u", data)
    parts = [convert_unit(spec, "u", c, line, whole_chunks) for c, line in chunks]
    assert not any(p.needs_whole_object for p in parts)
    assert b"".join(p.data for p in parts) == whole.data
    assert [n for p in parts for n in p.lines] == list(whole.lines)
    assert [(e.line_number, e.err_reason) for p in parts for e in p.errors] == \
        [(e.line_number, e.err_reason) for e in whole.errors]


def test_json_lines_are_cut_at_line_ends():
    rnd = random.Random(3)
    data = b"".join(json.dumps({"id": i, "body": 'q"}{[' * rnd.randint(0, 9)}).encode() + b"\n" for i in range(300))
    assert_same_as_whole(JSON_SPEC, data, split(JSON_SPEC, data), whole_chunks=False)


def test_multi_line_json_is_cut_after_top_level_values():
    """JSON values spread over lines (the song files' layout), several on a line, strings with brackets,
    escaped quotes and a bad record: cut by structure, the chunks convert to exactly the whole object."""
    rnd = random.Random(5)
    values = []
    for i in range(200):
        body = 'x\\"}]{[' * rnd.randint(0, 4)
        values.append(json.dumps({"id": i, "body": body, "nested": {"a": [1, {"b": "]"}]}}, indent=rnd.choice([None, 2])))
        if i == 77:
            values.append('{"id": "seventy-eight"}')   # a bad record keeps its line number
    data = "".join(v + rnd.choice(["\n", " ", "\n\n"]) for v in values).encode()
    assert convert_unit(JSON_SPEC, "u", data).errors   # the bad record is there
    assert_same_as_whole(JSON_SPEC, data, split(JSON_SPEC, data, structural=True), whole_chunks=True)


def test_a_malformed_multi_line_value_is_a_bad_record_not_a_huge_one(monkeypatch):
    """A truncated value leaves a bracket open: once the record limit follows it, the splitter finds it
    is malformed (not one long value) and cuts after its line, so it is a bad record at that line, as in
    the whole object, and the values after it load. (The limit is lowered to 64 KB to keep this fast.)"""
    monkeypatch.setattr(s3stream, "RECORD_BYTES", 64 << 10)
    values = [json.dumps({"id": i, "body": "b" * 200}, indent=2) for i in range(2_000)]
    values.insert(10, '{"id": 10, "body": "trunc')   # no closing quote or brace
    values.insert(20, '{"id": [1, {"body": "x"}')     # brackets left open
    data = ("\n".join(values) + "\n").encode()
    assert len(data) > 2 * s3stream.RECORD_BYTES
    whole = convert_unit(JSON_SPEC, "u", data)
    assert len(whole.errors) == 2
    chunks = split(JSON_SPEC, data, structural=True, size=16 << 10, read=8 << 10)
    assert_same_as_whole(JSON_SPEC, data, chunks, whole_chunks=True)


def test_csv_is_cut_outside_quoted_newlines():
    spec = LoadSpec((Column("id", "int4"), Column("body", "text")), fmt="csv", delimiter=",", ignore_header=1)
    data = ("id,body\n" + "".join(f'{i},"a\n""b"",\nc"\n' for i in range(300))).encode()
    assert_same_as_whole(spec, data, split(spec, data), whole_chunks=False)


@pytest.mark.parametrize("structural", [False, True])
def test_a_record_over_the_limit_fails_without_buffering_the_rest(monkeypatch, structural):
    """copy-parameters-data-format (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html):
    a single JSON object over 4 MB fails the COPY. The splitter says so once it holds little more than
    the limit, however much of the record is still to come; a record that never ends (an open string,
    a line without a value) too. (The limit is lowered to 64 KB to keep this fast.)"""
    limit = 64 << 10
    monkeypatch.setattr(s3stream, "RECORD_BYTES", limit)
    big = b'{"id": 1, "body": "' + b"x" * (limit + 10) + b'"}\n'
    data = b'{"id": 0, "body": "ok"}\n' * 3 + big + b'{"id": 2, "body": "ok"}\n'
    with pytest.raises(RecordTooLarge) as err:
        split(JSON_SPEC, data, structural=structural, size=16 << 10, read=4 << 10)
    assert err.value.line == 4 and err.value.size > limit
    assert "maximum size of a single JSON object or array is 4 MB" in str(err.value)
    for start in (b'{"id": 1, "body": "', b'{\n  "body": "', b"{", b"no value at all "):
        splitter = RecordSplitter(JSON_SPEC, structural=structural, size=16 << 10)
        splitter.feed(start)
        with pytest.raises(RecordTooLarge):
            for _ in range(64):
                splitter.feed(b"y" * (4 << 10))
                splitter.pop(False)
        assert splitter.held <= limit + (32 << 10)


def test_a_record_of_exactly_4_mb_is_not_refused():
    """The limit is 4 MB inclusive: a line of exactly RECORD_BYTES is cut through, not refused."""
    line = b'{"id": 1, "body": "' + b"x" * (RECORD_BYTES - 21) + b'"}'
    assert len(line) == RECORD_BYTES
    chunks = split(JSON_SPEC, line + b"\n" + line + b"\n", size=1 << 20, read=1 << 20)
    assert b"".join(c for c, _ in chunks) == line + b"\n" + line + b"\n"


# ---------------------------------------------------------------- through the endpoint

def _big_json_lines(size: int) -> tuple[bytes, int]:
    pad = "p" * 200
    lines = [b'{"id": %d, "body": "%d %s"}' % (i, i, pad.encode()) for i in range(size // 220 + 1)]
    return b"\n".join(lines) + b"\n", len(lines)


def _status_bytes(pid: int, field: str) -> int:
    return int(Path(f"/proc/{pid}/status").read_text().split(field + ":")[1].split()[0]) * 1024


@pytest.mark.integration
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_an_object_larger_than_the_budget_loads_within_it(endpoint, bucket, pg_server, compressed):
    """A 64 MB object (more than COPY_MEMORY_BYTES; gzip: decompressed size) loads every row while the
    relay's peak RSS grows by at most the budget plus 24 MB, and gives the memory back afterwards."""
    table = unique("big")
    body, n = _big_json_lines(64 * MB)
    assert len(body) > COPY_MEMORY_BYTES
    bucket.put("big/a.json" + (".gz" if compressed else ""), gzip.compress(body, 1) if compressed else body)
    bucket.put("small/a.json", body[:1000].rsplit(b"\n", 1)[0])
    del body
    option = "GZIP" if compressed else ""
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        c.execute(f"CREATE TABLE {table} (id INT, body VARCHAR(256))")
        # The relay's S3 client for these credentials is made (and kept) before measuring.
        c.execute(f"COPY {table} FROM '{bucket.url('small/')}' credentials '{CREDS}' JSON 'auto'")
        c.execute(f"TRUNCATE {table}")
        pid = endpoint.proc.pid
        time.sleep(0.3)
        before = psutil.Process(pid).memory_info().rss
        exact = True
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")   # VmHWM := current RSS
        except OSError:
            exact = False
        peak = 0
        cur = c.cursor()
        start = time.monotonic()
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, psutil.Process(pid).memory_info().rss)
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            cur.execute(f"COPY {table} FROM '{bucket.url('big/')}' credentials '{CREDS}' JSON 'auto' {option}")
        finally:
            done.set()
            sampler.join()
        seconds = time.monotonic() - start
        if exact:
            peak = max(peak, _status_bytes(pid, "VmHWM"))
        time.sleep(0.5)
        after = psutil.Process(pid).memory_info().rss
        assert cur.rowcount == n
    grew, held = peak - before, after - before
    print(f"{n:,} rows in {seconds:.1f}s; relay RSS +{grew / MB:.0f} MB at peak, {held / MB:+.0f} MB after")
    assert rows(pg_server, f"SELECT count(*), sum(id), count(*) FILTER (WHERE body = id || ' ' || "
                           f"repeat('p', 200)) FROM {table}")[0] == (n, n * (n - 1) // 2, n)
    assert grew < COPY_MEMORY_BYTES + 24 * MB
    assert held < 24 * MB


@pytest.mark.integration
def test_a_json_object_over_4_mb_fails_the_copy(endpoint, bucket, pg_server):
    """copy-parameters-data-format (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html):
    one JSON object over 4 MB fails the whole COPY (it is not a bad record that MAXERROR
    skips), in a streamed object and in a small one alike; nothing is loaded."""
    table = unique("huge")
    huge = b'{"id": 1, "body": "' + b"x" * (RECORD_BYTES + 1) + b'"}\n'
    small_obj = b'{"id": 0, "body": "a"}\n' + huge
    large_obj = _big_json_lines(WORKER_FETCH_BYTES + MB)[0] + huge
    bucket.put("s/a.json", small_obj)
    bucket.put("l/a.json", large_obj)
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        c.execute(f"CREATE TABLE {table} (id INT, body VARCHAR(65535))")
        for prefix, line in (("s/", 2), ("l/", large_obj.count(b"\n"))):
            with pytest.raises(psycopg.errors.InternalError_) as err:
                c.execute(f"COPY {table} FROM '{bucket.url(prefix)}' credentials '{CREDS}' JSON 'auto' "
                          "MAXERROR 100")
            assert err.value.sqlstate == "XX000"
            message = str(err.value)
            assert "maximum size of a single JSON object or array is 4 MB" in message
            assert f"line {line} " in message and bucket.url(prefix + "a.json") in message
    assert rows(pg_server, f"SELECT count(*) FROM {table}") == [(0,)]


@pytest.mark.integration
def test_a_large_multi_line_json_object_streams_and_reports_bad_records_by_line(endpoint, bucket, pg_server):
    """A pretty-printed JSON object larger than a worker unit: the relay finds it is not one value per
    line and cuts it by structure; every value loads, and a bad record is reported in stl_load_errors
    at the line where its value starts, as when an object is converted whole (MAXERROR skips it:
    https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-load.html)."""
    table = unique("pretty")
    parts, i, size, bad_line, line = [], 0, 0, 0, 1
    while size <= WORKER_FETCH_BYTES + 2 * MB:
        if i == 20_000:
            text, bad_line = '{\n  "id": "not a number",\n  "body": "bad"\n}', line
        else:
            text = json.dumps({"id": i, "body": f"row {i} " + "q" * 100}, indent=2)
        parts.append(text)
        size += len(text) + 1
        line += text.count("\n") + 1
        i += 1
    bucket.put("p/a.json", ("\n".join(parts) + "\n").encode())
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        c.execute(f"CREATE TABLE {table} (id INT, body VARCHAR(256))")
        c.execute(f"COPY {table} FROM '{bucket.url('p/')}' credentials '{CREDS}' JSON 'auto' MAXERROR 10")
    good = i - 1
    assert rows(pg_server, f"SELECT count(*), count(DISTINCT id), sum(id) FROM {table}")[0] == \
        (good, good, i * (i - 1) // 2 - 20_000)
    with pg(pg_server) as c:
        errors = c.execute("SELECT filename, line_number, colname FROM stl_load_errors WHERE tablename = %s",
                           (table,)).fetchall()
    assert [(f.strip(), n, col.strip()) for f, n, col in errors] == [(bucket.url("p/a.json"), bad_line, "id")]
