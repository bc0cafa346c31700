"""One injected COPY: resolve the target columns, read S3, convert in a worker pool, stream CopyData.

The relay calls ``inject`` right after forwarding the client's Execute/Query and before reading
the client's next message (see redshift_endpoint/docs/reference.md for why that order is the one that works).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from array import array
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass, field, fields

from redshift_endpoint import binary, memory, s3source, s3stream
from redshift_endpoint import protocol as p
from redshift_endpoint.convert import (
    JsonPathsError,
    RowError,
    UnitResult,
    convert_unit,
    parse_jsonpaths_file,
)
from redshift_endpoint.copy_spec import CopySpec, RowOptions
from redshift_endpoint.limits import COPY_MEMORY_BYTES
from redshift_endpoint.load_spec import Column, LoadSpec
from redshift_endpoint.worker import convert_whole, fetch_and_convert

log = logging.getLogger(__name__)

MESSAGE_BYTES = 1 << 20      # CopyData payload size
WORKER_FETCH_BYTES = 8 << 20  # up to this size (uncompressed) a worker process fetches and converts the whole object
LOOKAHEAD = 4                # small objects fetched/converted ahead of the one being streamed
# Memory of one COPY in the relay, within COPY_MEMORY_BYTES: small objects converted ahead are held
# as converted rows (about their size); a streamed object's chunk in flight costs about three times
# its size (the chunk, its pickled copy on the way to the worker, its converted rows).
SMALL_AHEAD_BYTES = COPY_MEMORY_BYTES // 2
CHUNKS_IN_FLIGHT = max(1, COPY_MEMORY_BYTES // (3 * s3stream.CHUNK_BYTES))
# After a COPY that moved more than this, free heap pages go back to the system (memory.py).
TRIM_AFTER_BYTES = 16 << 20


class LoadFailed(Exception):
    def __init__(self, message: str, code: str = "XX000", detail: str | None = None):
        super().__init__(message)
        self.message, self.code, self.detail = message, code, detail


def load_failed_message(table: str) -> str:
    return f"Load into table '{table}' failed. Check 'stl_load_errors' system table for details."


@dataclass
class CopyJob:
    spec: CopySpec
    columns: tuple[Column, ...] = ()
    tbl_oid: int | None = None
    failure: LoadFailed | None = None            # set before CopyFail: the message the client sees
    aborted: asyncio.Event = field(default_factory=asyncio.Event)   # backend rejected the data
    line_map: list[tuple[int, str, array]] = field(default_factory=list)  # (first copy line, url, lines)
    rows: int = 0
    bytes: int = 0                               # converted bytes sent to the backend
    errors: list[RowError] = field(default_factory=list)

    @property
    def table(self) -> str:
        return self.spec.table_name

    def source_of(self, copy_line: int) -> tuple[str, int] | None:
        """COPY data line number (1-based) -> (object url, line in that object)."""
        starts = [m[0] for m in self.line_map]
        i = bisect.bisect_right(starts, copy_line) - 1
        if i < 0:
            return None
        first, url, lines = self.line_map[i]
        k = copy_line - first
        return (url, lines[k]) if 0 <= k < len(lines) else None


def build_load_spec(spec: CopySpec, columns: tuple[Column, ...], paths) -> LoadSpec:
    if spec.fmt == "json":
        mode = spec.json_mode.strip().lower()
        json_mode = "paths" if paths is not None else ("ignorecase" if mode == "auto ignorecase" else "auto")
    else:
        json_mode = ""
    delimiter = spec.delimiter or ("," if spec.fmt == "csv" else "|")
    options = {f.name: getattr(spec, f.name) for f in fields(RowOptions)}
    return LoadSpec(columns=columns, fmt=spec.fmt, json_mode=json_mode, paths=tuple(paths or ()),
                    delimiter=delimiter, **options)


def compression(spec: CopySpec) -> str | None:
    return "gzip" if spec.gzip else "bzip2" if spec.bzip2 else None


def check_formats(spec: CopySpec, columns: tuple[Column, ...]) -> None:
    """TIMEFORMAT strings apply to TIMESTAMP columns; TIMESTAMPTZ takes the default or 'auto' only."""
    if spec.accept_any_date:
        # PostgreSQL's own parser decides 'auto' values: a mismatch cannot be turned into NULL.
        for col in columns:
            fmt = spec.dateformat if col.kind == "date" else spec.timeformat if col.kind == "ts" else None
            if fmt == "auto":
                raise LoadFailed(f"ACCEPTANYDATE with {'DATEFORMAT' if col.kind == 'date' else 'TIMEFORMAT'} "
                                 "'auto' is not supported by the local endpoint (give a format string)", "0A000")
    fmt = spec.timeformat
    if fmt is None or fmt in ("auto", "epochsecs", "epochmillisecs"):
        return
    for col in columns:
        if col.kind == "tstz":
            raise LoadFailed(f"TIMEFORMAT '{fmt}' cannot load TIMESTAMPTZ column \"{col.name}\": Redshift "
                             "loads TIMESTAMPTZ in the default format or with TIMEFORMAT 'auto'", "0A000")
        if col.kind == "time":
            raise LoadFailed(f"TIMEFORMAT '{fmt}' for TIME column \"{col.name}\" is not supported by the "
                             "local endpoint", "0A000")


def resolve_columns(spec: CopySpec, table_cols: list[tuple[str, str]]) -> tuple[Column, ...]:
    by_name = {name: typ for name, typ in table_cols}
    names = spec.columns or [name for name, _ in table_cols]
    missing = [n for n in names if n not in by_name]
    if missing:
        raise LoadFailed(f"column \"{missing[0]}\" of relation \"{spec.table_name}\" does not exist", "42703")
    return tuple(Column.of(n, by_name[n]) for n in names)


class Injector:
    """Streams one COPY's rows to the backend writer."""

    def __init__(self, *, s3: s3source.S3Clients, pool: Executor | None, backend: asyncio.StreamWriter,
                 client_gone: asyncio.Event):
        self.s3, self.pool, self.backend, self.client_gone = s3, pool, backend, client_gone

    async def run(self, job: CopyJob, load_spec_columns) -> None:
        """Send CopyData... then CopyDone, or CopyFail with ``job.failure`` set."""
        spec = job.spec
        try:
            job.columns, job.tbl_oid = await load_spec_columns(spec)
            if spec.binary and tuple(c.binary for c in job.columns) != spec.binary_types:
                # The statement was prepared as binary COPY for other column types (table recreated).
                raise LoadFailed(f"the columns of {spec.target} changed since the COPY was prepared; "
                                 "prepare the statement again", "0A000")
            check_formats(spec, job.columns)
            client = self.s3.client(spec.credentials, spec.region)
            paths = None
            if spec.fmt == "json" and spec.json_mode.strip().lower().startswith("s3://"):
                raw = await asyncio.to_thread(s3source.get_bytes, client, spec.json_mode.strip())
                try:
                    paths = parse_jsonpaths_file(raw)
                except JsonPathsError as e:
                    raise LoadFailed(str(e)) from None
                if paths is not None and len(paths) != len(job.columns):
                    raise LoadFailed(
                        "Number of jsonpaths and the number of columns should match. "
                        f"JSONPath size: {len(paths)}, Number of columns in table or column list: "
                        f"{len(job.columns)}")
            elif spec.fmt == "json" and spec.json_mode.strip().lower() not in ("auto", "auto ignorecase"):
                raise LoadFailed(f"JSON option '{spec.json_mode}' is not supported by the local endpoint "
                                 "(use 'auto', 'auto ignorecase' or an s3:// jsonpaths file)", "0A000")
            load_spec = build_load_spec(spec, job.columns, paths)
            lister = s3source.read_manifest if spec.manifest else s3source.list_prefix
            objects = await asyncio.to_thread(lister, client, spec.source)
            await self._stream(job, client, load_spec, objects)
        except s3source.S3LoadError as e:
            job.failure = LoadFailed(str(e))
        except LoadFailed as e:
            job.failure = e
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:  # noqa: BLE001 - any surprise fails this load, not the endpoint
            log.exception("COPY into %s failed", spec.target)
            job.failure = LoadFailed(f"Load into table '{job.table}' failed: {type(e).__name__}: {e}")
        # Once the backend rejected the data it ignores whatever follows.
        if not job.aborted.is_set():
            if job.failure is not None:
                self.backend.write(p.copy_fail(job.failure.message))
            else:
                if spec.binary:
                    self.backend.write(p.copy_data(binary.TRAILER))
                self.backend.write(p.COPY_DONE)
            await self.backend.drain()
        if job.bytes > TRIM_AFTER_BYTES:
            await asyncio.to_thread(memory.release_free_memory)

    def _streamed(self, job: CopyJob, obj: s3source.S3Object) -> bool:
        """Large or compressed objects are read and converted piece by piece (s3stream.py)."""
        return obj.size > WORKER_FETCH_BYTES or compression(job.spec) is not None

    async def _convert_small(self, job: CopyJob, client, load_spec: LoadSpec,
                             obj: s3source.S3Object) -> UnitResult:
        """An uncompressed object of at most WORKER_FETCH_BYTES, converted whole."""
        if self.pool is not None:
            return await asyncio.get_running_loop().run_in_executor(
                self.pool, fetch_and_convert, self.s3.endpoint_url, job.spec.credentials, job.spec.region,
                load_spec, obj.url, None)
        data = await asyncio.to_thread(s3source.get_bytes, client, obj.url)
        return await asyncio.to_thread(convert_whole, load_spec, obj.url, data, None)

    async def _stream_large(self, job: CopyJob, client, load_spec: LoadSpec, obj: s3source.S3Object):
        """The converted chunks of one streamed object, in order (an async generator).

        At most CHUNKS_IN_FLIGHT chunks are held (read, being converted, or converted and waiting),
        so the relay's memory does not depend on the object's size.
        """
        loop = asyncio.get_running_loop()
        stream = await asyncio.to_thread(s3stream.open_object, client, obj.url, compression(job.spec))
        splitter = s3stream.RecordSplitter(load_spec)
        inflight: deque[tuple[asyncio.Future, bytes, int]] = deque()
        eof = False

        def submit(chunk: bytes, line: int) -> asyncio.Future:
            # By lines, a chunk that is not one JSON value per line says so (needs_whole_object);
            # by structure, a chunk holds whole values however they are laid out.
            args = (load_spec, obj.url, chunk, line, splitter.structural, None)
            if self.pool is not None:
                return loop.run_in_executor(self.pool, convert_unit, *args)
            return asyncio.ensure_future(asyncio.to_thread(convert_unit, *args))

        try:
            while True:
                while len(inflight) < CHUNKS_IN_FLIGHT:
                    try:
                        unit = splitter.pop(eof)
                    except s3stream.RecordTooLarge as e:
                        raise LoadFailed(f"{e} in '{obj.url}'") from None
                    if unit is None:
                        if eof:
                            break
                        data = await asyncio.to_thread(stream.read, s3stream.READ_BYTES)
                        if data:
                            splitter.feed(data)
                        else:
                            eof = True
                        continue
                    inflight.append((submit(*unit), *unit))
                if not inflight:
                    return
                fut, chunk, line = inflight[0]
                res = await fut
                inflight.popleft()
                if res.needs_whole_object:
                    # Every chunk before this one was whole JSON lines, so this one starts at a
                    # top-level value: cut the rest by structure (the chunks after it again too).
                    rest = [chunk, *(c for _, c, _ in inflight), splitter.pending]
                    for f, _, _ in inflight:
                        f.cancel()
                    inflight.clear()
                    splitter = s3stream.RecordSplitter(load_spec, structural=True, data=b"".join(rest), line=line)
                    del rest
                    continue
                yield res
        finally:
            for f, _, _ in inflight:
                f.cancel()
            stream.close()

    async def _emit(self, job: CopyJob, url: str, res: UnitResult) -> bool:
        """Send one unit's rows; False when the backend already rejected the COPY."""
        if res.fatal is not None:
            raise LoadFailed(res.fatal)
        job.errors.extend(res.errors)
        # "Data load operations", MAXERROR: the load fails at error_count errors or more
        # (0 and 1 both fail on the first error).
        if len(job.errors) >= max(job.spec.max_error, 1):
            raise LoadFailed(load_failed_message(job.table))
        if not res.rows or job.spec.no_load:
            return True  # NOLOAD: every record is checked, none is loaded
        job.line_map.append((job.rows + 1, url, res.lines))
        job.rows += res.rows
        job.bytes += len(res.data)
        data = memoryview(res.data)
        for off in range(0, len(data), MESSAGE_BYTES):
            if job.aborted.is_set() or self.client_gone.is_set():
                if self.client_gone.is_set():
                    raise LoadFailed("client disconnected during COPY", "08006")
                return False
            self.backend.write(p.copy_data(data[off: off + MESSAGE_BYTES]))
            await self.backend.drain()
        return True

    async def _stream(self, job: CopyJob, client, load_spec: LoadSpec, objects) -> None:
        # Small objects are converted a few ahead (LOOKAHEAD, and at most SMALL_AHEAD_BYTES of them);
        # a streamed object runs alone, after the ones before it.
        pending: deque[tuple[s3source.S3Object, asyncio.Future | None]] = deque()
        it = iter(objects)
        nxt = next(it, None)
        ahead = 0

        def refill() -> None:
            nonlocal nxt, ahead
            while nxt is not None and len(pending) < LOOKAHEAD:
                if self._streamed(job, nxt):
                    if not pending:
                        pending.append((nxt, None))
                        nxt = next(it, None)
                    return
                if pending and ahead + nxt.size > SMALL_AHEAD_BYTES:
                    return
                ahead += nxt.size
                pending.append((nxt, asyncio.ensure_future(self._convert_small(job, client, load_spec, nxt))))
                nxt = next(it, None)

        refill()
        if load_spec.binary:
            self.backend.write(p.copy_data(binary.HEADER))
        try:
            while pending:
                obj, fut = pending[0]
                if fut is None:
                    pending.popleft()
                    async with contextlib.aclosing(self._stream_large(job, client, load_spec, obj)) as units:
                        async for res in units:
                            if not await self._emit(job, obj.url, res):
                                return
                else:
                    res = await fut
                    pending.popleft()
                    ahead -= obj.size
                    refill()
                    if not await self._emit(job, obj.url, res):
                        return
                refill()
        finally:
            for _, f in pending:
                if f is not None:
                    f.cancel()


def raw_line_of(client, url: str, line: int, gz: bool) -> str:
    """Re-read one line of an object (only on the error path, for stl_load_errors.raw_line).

    Read as a stream, keeping only the wanted line, so a bad row of a large object costs no memory.
    """
    if line < 1:
        return ""
    body = s3stream.open_object(client, url, None)
    head = body.read(10)
    # The relay passes spec.gzip only: a BZIP2 object is recognised by its magic bytes.
    comp = "bzip2" if head[:3] == b"BZh" and head[4:10] == b"1AY&SY" else "gzip" if gz else None
    stream = s3stream.decompressing(s3stream.Prefixed(head, body), comp)
    current, kept = 1, bytearray()
    try:
        while len(kept) < 4 * RAW_LINE_CHARS:
            data = stream.read(s3stream.READ_BYTES)
            if not data:
                break
            pos = 0
            while current < line:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    break
                current, pos = current + 1, nl + 1
            if current < line:
                continue
            nl = data.find(b"\n", pos)
            kept += data[pos: nl if nl >= 0 else len(data)]
            if nl >= 0:
                break
    finally:
        stream.close()
    return bytes(kept[: 4 * RAW_LINE_CHARS]).decode("utf-8", "replace")[:RAW_LINE_CHARS]


RAW_LINE_CHARS = 1024   # stl_load_errors.raw_line keeps the first 1024 characters
