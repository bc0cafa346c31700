"""One injected COPY: resolve the target columns, read S3, convert in a worker pool, stream CopyData.

The relay calls ``inject`` right after forwarding the client's Execute/Query and before reading
the client's next message (see redshift_endpoint/docs/reference.md for why that order is the one that works).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from array import array
from concurrent.futures import Executor
from dataclasses import dataclass, field, fields

from redshift_endpoint import binary, s3source
from redshift_endpoint import protocol as p
from redshift_endpoint.convert import (
    JsonPathsError,
    RowError,
    UnitResult,
    convert_unit,
    decompress,
    parse_jsonpaths_file,
    split_chunks,
)
from redshift_endpoint.copy_spec import CopySpec, RowOptions
from redshift_endpoint.load_spec import Column, LoadSpec
from redshift_endpoint.worker import fetch_and_convert

log = logging.getLogger(__name__)

CHUNK_BYTES = 4 << 20        # conversion unit of a large uncompressed object
MESSAGE_BYTES = 1 << 20      # CopyData payload size
POOL_THRESHOLD = 2 << 20     # below this many bytes, convert in a thread instead of the process pool
WORKER_FETCH_BYTES = 32 << 20  # up to this size a worker process fetches and converts the whole object
LOOKAHEAD = 4                # objects fetched/converted ahead of the one being streamed


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
        if job.aborted.is_set():
            return  # the backend already rejected the data and ignores whatever follows
        if job.failure is not None:
            self.backend.write(p.copy_fail(job.failure.message))
        else:
            if spec.binary:
                self.backend.write(p.copy_data(binary.TRAILER))
            self.backend.write(p.COPY_DONE)
        await self.backend.drain()

    async def _convert_object(self, job: CopyJob, client, load_spec: LoadSpec,
                              obj: s3source.S3Object) -> list[tuple[str, UnitResult]]:
        loop = asyncio.get_running_loop()
        gz = compression(job.spec)
        if self.pool is not None and obj.size <= WORKER_FETCH_BYTES:
            result = await loop.run_in_executor(self.pool, fetch_and_convert, self.s3.endpoint_url,
                                                job.spec.credentials, job.spec.region, load_spec, obj.url, gz)
            return [(obj.url, result)]
        data = await asyncio.to_thread(s3source.get_bytes, client, obj.url)
        use_pool = self.pool is not None and len(data) >= POOL_THRESHOLD

        async def run(*args):
            if use_pool:
                return await loop.run_in_executor(self.pool, convert_unit, *args)
            return await asyncio.to_thread(convert_unit, *args)

        if gz or len(data) <= CHUNK_BYTES:
            return [(obj.url, await run(load_spec, obj.url, data, 1, True, gz))]
        chunks = split_chunks(data, CHUNK_BYTES, load_spec)
        results = await asyncio.gather(*(run(load_spec, obj.url, c, line, False, False) for c, line in chunks))
        if any(r.needs_whole_object for r in results):
            return [(obj.url, await run(load_spec, obj.url, data, 1, True, False))]
        return [(obj.url, r) for r in results]

    async def _stream(self, job: CopyJob, client, load_spec: LoadSpec, objects) -> None:
        pending: list[asyncio.Task] = []
        it = iter(objects)
        copy_line = 1

        def refill() -> None:
            while len(pending) < LOOKAHEAD:
                obj = next(it, None)
                if obj is None:
                    return
                pending.append(asyncio.ensure_future(self._convert_object(job, client, load_spec, obj)))

        refill()
        if load_spec.binary:
            self.backend.write(p.copy_data(binary.HEADER))
        try:
            while pending:
                results = await pending.pop(0)
                refill()
                for url, res in results:
                    if res.fatal is not None:
                        raise LoadFailed(res.fatal)
                    job.errors.extend(res.errors)
                    # "Data load operations", MAXERROR: the load fails at error_count errors or more
                    # (0 and 1 both fail on the first error).
                    if len(job.errors) >= max(job.spec.max_error, 1):
                        raise LoadFailed(load_failed_message(job.table))
                    if not res.rows or job.spec.no_load:
                        continue  # NOLOAD: every record is checked, none is loaded
                    job.line_map.append((copy_line, url, res.lines))
                    copy_line += res.rows
                    job.rows += res.rows
                    data = res.data
                    for off in range(0, len(data), MESSAGE_BYTES):
                        if job.aborted.is_set() or self.client_gone.is_set():
                            if self.client_gone.is_set():
                                raise LoadFailed("client disconnected during COPY", "08006")
                            return
                        self.backend.write(p.copy_data(data[off: off + MESSAGE_BYTES]))
                        await self.backend.drain()
        finally:
            for t in pending:
                t.cancel()


def raw_line_of(client, url: str, line: int, gz: bool) -> str:
    """Re-read one line of an object (only on the error path, for stl_load_errors.raw_line)."""
    data = s3source.get_bytes(client, url)
    # The relay passes spec.gzip only: a BZIP2 object is recognised by its magic bytes.
    if data[:3] == b"BZh" and data[4:10] == b"1AY&SY":
        data = decompress(data, "bzip2")
    elif gz:
        data = decompress(data, "gzip")
    lines = data.split(b"\n")
    return lines[line - 1].decode("utf-8", "replace")[:1024] if 0 < line <= len(lines) else ""
