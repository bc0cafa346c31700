"""One client connection: relay to PostgreSQL, rewrite Redshift SQL, inject COPY data.

Three tasks per connection:
* ``_read_client`` queues the client's messages (so a disconnect is noticed even mid-COPY);
* ``_client_to_backend`` rewrites Query/Parse, tracks statement -> portal -> COPY, and after
  forwarding an Execute/Query that runs an S3 COPY, streams that COPY's data before handling the
  next client message;
* ``_backend_to_client`` forwards responses, hides the CopyInResponse of injected COPYs (one
  expectation per response segment, i.e. per Sync/Query), rewrites COPY errors in Redshift's words,
  and presents a parseable server_version.

Sort keys: a CREATE TABLE with a SORTKEY is matched to its CommandComplete (the n-th statement
result of its segment); the key is then pending until the transaction commits (ReadyForQuery 'I'
or a COMMIT), when the admin connection builds the index in the background; a rollback, an error
in an implicit transaction or an aborted transaction drops it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections import defaultdict, deque
from typing import TYPE_CHECKING

from devstack.endpoint import binary
from devstack.endpoint import protocol as p
from devstack.endpoint.convert import RowError
from devstack.endpoint.copy_parse import CopySpec
from devstack.endpoint.loader import (
    CopyJob,
    Injector,
    LoadFailed,
    load_failed_message,
    raw_line_of,
    resolve_columns,
)
from devstack.endpoint.rewrite import Rewritten, SortKey, TableDef, lookup_name, redact, rewrite
from devstack.endpoint.startup import Startup, clean_server_version, read_startup, sasl_for_redshift_driver

if TYPE_CHECKING:
    from devstack.endpoint.server import Endpoint

log = logging.getLogger(__name__)

_SEGMENT_END = {b"Q", b"S", b"F"}   # client messages answered by exactly one ReadyForQuery
_WATCHED = {ord(c) for c in "GEZSCKRIs"}
_RESULTS = {b"C", b"I", b"s"}        # the one result of an Execute (or of a simple-Query statement)
_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:]+))?(?:: \"(.*)\")?", re.S)


class Session:
    def __init__(self, endpoint: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.ep = endpoint
        self.creader, self.cwriter = reader, writer
        self.breader: asyncio.StreamReader | None = None
        self.bwriter: asyncio.StreamWriter | None = None
        self.startup: Startup | None = None
        self.queue: asyncio.Queue = asyncio.Queue()
        self.client_gone = asyncio.Event()
        self.statements: dict[bytes, CopySpec | None] = {}
        self.portals: dict[bytes, CopySpec | None] = {}
        self.tables: dict[str, TableDef] = {}      # tables created in this session, by last name part
        self.segments_sent = 1                     # segment 0 is the start-up exchange
        self.segments_seen = 0
        self.expect: dict[int, deque[CopyJob]] = defaultdict(deque)
        self.in_copy: CopyJob | None = None
        self.backend_pid: int | None = None
        self.peer = writer.get_extra_info("peername")
        # Sort-key indexes: statement/portal -> key; per segment, (result ordinal, key) to match
        # against CommandCompletes; keys of CREATEs done in the open transaction; committed ones.
        self.stmt_keys: dict[bytes, SortKey] = {}
        self.portal_keys: dict[bytes, SortKey] = {}
        self.results_sent = 0                      # statement results expected in the current segment
        self.results_seen = 0
        self.key_expect: dict[int, deque[tuple[int, SortKey]]] = defaultdict(deque)
        self.keys_pending: list[SortKey] = []
        self.keys_committed: list[SortKey] = []
        self.segment_failed = False
        self.search_path: str | None = None        # the client's SET search_path, if any

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        try:
            self.startup = await asyncio.wait_for(read_startup(self.creader, self.cwriter), 30)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as e:
            log.debug("client %s went away during start-up: %s", self.peer, e)
            self.cwriter.close()
            return
        try:
            self.breader, self.bwriter = await asyncio.wait_for(
                asyncio.open_connection(self.ep.config.backend_host, self.ep.config.backend_port), 10)
        except (OSError, TimeoutError) as e:
            log.warning("cannot reach the PostgreSQL backend: %s", e)
            if self.startup.kind == "startup":
                self.cwriter.write(p.error_response(
                    "08006", f"could not connect to the PostgreSQL backend at {self.ep.config.backend_host}:"
                    f"{self.ep.config.backend_port}: {e}", severity="FATAL"))
                await self._safe_drain(self.cwriter)
            self.cwriter.close()
            return
        self.bwriter.write(self.startup.raw)
        if self.startup.kind == "cancel":
            await self._safe_drain(self.bwriter)
            self.bwriter.close()
            self.cwriter.close()
            return
        log.debug("session %s user=%s db=%s", self.peer, self.startup.user, self.startup.database)
        tasks = [asyncio.ensure_future(c) for c in (self._read_client(), self._client_to_backend(),
                                                    self._backend_to_client())]
        try:
            done, _ = await asyncio.wait(tasks[1:], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t.exception() is not None and not isinstance(t.exception(), ConnectionError | asyncio.IncompleteReadError):
                    log.error("session %s failed", self.peer, exc_info=t.exception())
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.bwriter.close()
            self.cwriter.close()

    @staticmethod
    async def _safe_drain(writer: asyncio.StreamWriter) -> None:
        try:
            await writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    async def _read_client(self) -> None:
        try:
            while True:
                msg = await p.read_message(self.creader)
                await self.queue.put(msg)
                if msg[0] == b"X":
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            self.client_gone.set()
            await self.queue.put(None)

    # ------------------------------------------------------------------ client -> backend
    async def _client_to_backend(self) -> None:
        w = self.bwriter
        while True:
            msg = await self.queue.get()
            if msg is None:
                return  # client gone: closing the backend rolls back whatever was open
            mtype, body = msg
            if mtype == b"Q":
                await self._query(body)
                continue
            if mtype == b"P":
                name, text, tail = p.parse_parse(body)
                rw = await self._choose_formats(text, self._rewrite(text))
                self.statements[name] = rw.copies[0] if rw.copies else None
                if rw.sortkeys:
                    self.stmt_keys[name] = rw.sortkeys[0][1]
                elif self.stmt_keys:
                    self.stmt_keys.pop(name, None)
                w.write(p.build_parse(name, rw.sql, tail) if rw.changed else p.message(mtype, body))
            elif mtype == b"B":
                portal, stmt = p.parse_bind(body)
                self.portals[portal] = self.statements.get(stmt)
                if stmt in self.stmt_keys:
                    self.portal_keys[portal] = self.stmt_keys[stmt]
                elif self.portal_keys:
                    self.portal_keys.pop(portal, None)
                w.write(p.message(mtype, body))
            elif mtype == b"E":
                portal = p.parse_execute(body)
                if portal in self.portal_keys:
                    self.key_expect[self.segments_sent].append((self.results_sent, self.portal_keys[portal]))
                self.results_sent += 1
                spec = self.portals.get(portal)
                if spec is not None:
                    job = self._expect(spec)
                    w.write(p.message(mtype, body))
                    await self._inject(job)
                    continue
                w.write(p.message(mtype, body))
            elif mtype == b"C":
                kind, name = p.parse_target(body)
                (self.statements if kind == b"S" else self.portals).pop(name, None)
                (self.stmt_keys if kind == b"S" else self.portal_keys).pop(name, None)
                w.write(p.message(mtype, body))
            else:
                if mtype in _SEGMENT_END:
                    self.segments_sent += 1
                    self.results_sent = 0
                w.write(p.message(mtype, body))
                if mtype == b"X":
                    await w.drain()
                    return
            await w.drain()

    def _rewrite(self, text: str):
        rw = rewrite(text)
        if rw.changed and log.isEnabledFor(logging.DEBUG):
            log.debug("rewrote %r -> %r", redact(text)[:500], redact(rw.sql)[:500])
        for t in rw.tables:
            self.tables[t.key] = t
        for name in rw.dropped:
            self.tables.pop(name.split(".")[-1], None)
        if rw.search_path is not None:
            self.search_path = rw.search_path or None
        return rw

    async def _query(self, body: bytes) -> None:
        text = p.query_text(body)
        rw = await self._choose_formats(text, self._rewrite(text))
        jobs = [self._expect(spec) for spec in rw.copies]
        if rw.sortkeys:
            self.key_expect[self.segments_sent].extend(rw.sortkeys)
        self.bwriter.write(p.build_query(rw.sql) if rw.changed else p.message(b"Q", body))
        self.segments_sent += 1
        self.results_sent = 0
        for job in jobs:
            await self._inject(job)
        await self.bwriter.drain()

    async def _choose_formats(self, text: str, rw: Rewritten) -> Rewritten:
        """Rewrite again with FORMAT binary for the S3 COPYs whose target types allow it.

        The format is part of the statement PostgreSQL receives now, while the rows come at
        Execute: so the column types are looked up here (and checked again at Execute).
        """
        if not rw.copies:
            return rw
        types = [await self._binary_types(spec) for spec in rw.copies]
        if not any(types):
            return rw
        rw = rewrite(text, [t is not None for t in types])
        for spec, t in zip(rw.copies, types, strict=True):
            spec.binary_types = t or ()
        return rw

    async def _binary_types(self, spec: CopySpec) -> tuple[str | None, ...] | None:
        if spec.fmt != "json" or spec.error:
            return None
        try:
            columns, _ = await self._columns(spec)
        except LoadFailed:
            return None  # e.g. created later in this pipeline: CSV, and Execute reports any error
        if not binary.usable(columns, spec.fmt, spec.timeformat):
            return None
        return tuple(c.binary for c in columns)

    def _expect(self, spec: CopySpec) -> CopyJob:
        """Register the CopyInResponse to hide in the current response segment."""
        job = CopyJob(spec)
        self.expect[self.segments_sent].append(job)
        log.info("COPY %s FROM %s (%s, sent as %s)", spec.target, spec.source, spec.fmt,
                 "binary" if spec.binary else "csv")
        return job

    async def _inject(self, job: CopyJob) -> None:
        injector = Injector(s3=self.ep.s3, pool=self.ep.pool, backend=self.bwriter, client_gone=self.client_gone)
        await injector.run(job, self._columns)
        if job.failure is not None and job.failure.message.startswith("Load into table") and job.errors:
            await self._record(job, job.errors)
        elif job.failure is None and job.errors:
            await self._record(job, job.errors)  # MAXERROR tolerated them: still recorded
        log.info("COPY %s: %d rows sent, %d bad records%s", job.spec.target, job.rows, len(job.errors),
                 f", failed: {job.failure.message}" if job.failure else "")

    async def _columns(self, spec: CopySpec):
        """Target columns: a table created in this session (temp, LIKE, uncommitted) or the catalog."""
        parts = spec.target_parts
        table = self.tables.get(parts[-1])
        oid = None
        if table is not None and (len(parts) == 1 or table.parts == parts):
            if table.like:
                cols, oid = await self._catalog(table.like)
            else:
                cols = [(c.name, c.type) for c in table.columns]
        else:
            cols, oid = await self._catalog(parts)
        if not cols:
            raise LoadFailed(f"relation \"{spec.target}\" does not exist", "42P01")
        return resolve_columns(spec, cols), oid

    async def _catalog(self, parts: list[str]):
        try:
            return await self.ep.admin.columns(self.startup.database, self.startup.user, lookup_name(parts))
        except Exception as e:  # noqa: BLE001
            raise LoadFailed(f"cannot read the columns of {'.'.join(parts)}: {e}", "58000") from e

    async def _record(self, job: CopyJob, errors: list[RowError]) -> None:
        try:
            await self.ep.admin.record(self.startup.database, self.startup.user, table=job.table,
                                       tbl_oid=job.tbl_oid, session=self.backend_pid, errors=errors)
        except Exception:  # noqa: BLE001 - the load error still reaches the client
            log.exception("could not write stl_load_errors")

    # ------------------------------------------------------------------ backend -> client
    async def _backend_to_client(self) -> None:
        buf = bytearray()
        out = bytearray()
        cw = self.cwriter
        try:
            while True:
                data = await self.breader.read(1 << 18)
                if not data:
                    break
                buf += data
                pos, n = 0, len(buf)
                while n - pos >= 5:
                    length = int.from_bytes(buf[pos + 1: pos + 5], "big")
                    end = pos + 1 + length
                    if end > n:
                        break
                    mtype = buf[pos]
                    if mtype in _WATCHED:
                        replaced = await self._on_backend_message(bytes(buf[pos:pos + 1]), bytes(buf[pos + 5:end]),
                                                                  out)
                        if replaced is None:
                            out += buf[pos:end]
                        else:
                            out += replaced
                    else:
                        out += buf[pos:end]
                    pos = end
                del buf[:pos]
                if out:
                    cw.write(bytes(out))
                    out.clear()
                    await cw.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        # The backend closed (restart, crash, admin shutdown): tell the client instead of hanging it.
        if out:
            cw.write(bytes(out))
        cw.write(p.error_response("08006", "the PostgreSQL backend behind the Redshift endpoint closed the "
                                  "connection", severity="FATAL"))
        await self._safe_drain(cw)

    async def _on_backend_message(self, mtype: bytes, body: bytes, out: bytearray) -> bytes | None:
        """Return replacement bytes (b'' hides the message) or None to forward it unchanged."""
        if mtype == b"G":
            pending = self.expect.get(self.segments_seen)
            if pending:
                self.in_copy = pending.popleft()
                return b""
            return None
        if mtype in _RESULTS:
            if mtype == b"C":
                self.in_copy = None
                self._on_command_complete(body)
            self.results_seen += 1
            return None
        if mtype == b"E":
            self.segment_failed = True  # the rest of the segment is skipped: its results never come
            job, self.in_copy = self.in_copy, None
            if job is None:
                return None
            return await self._copy_error(job, p.error_fields(body), out)
        if mtype == b"Z":
            if self.segments_seen == 0:  # the session is authenticated and ready: system tables first
                await self.ep.admin.ensure_system_tables(self.startup.database, self.startup.user)
            self.expect.pop(self.segments_seen, None)
            self.key_expect.pop(self.segments_seen, None)
            self._on_ready(body[:1])
            self.segments_seen += 1
            self.results_seen = 0
            self.in_copy = None
            return None
        if mtype == b"S":
            name, value = p.parameter_status(body)
            if name == "server_version":
                return p.build_parameter_status(name, clean_server_version(value))
            return None
        if mtype == b"K":
            self.backend_pid = p.unpack_int32(body)
        if mtype == b"R" and self.startup.redshift_driver and p.unpack_int32(body) == 10:
            return p.message(b"R", sasl_for_redshift_driver(body))
        return None

    # ------------------------------------------------------------------ sort-key indexes
    def _on_command_complete(self, body: bytes) -> None:
        expected = self.key_expect.get(self.segments_seen)
        if expected:
            while expected and expected[0][0] < self.results_seen:
                expected.popleft()  # defensive: a result we did not count
            if expected and expected[0][0] == self.results_seen:
                key = expected.popleft()[1]
                tag = body.rstrip(b"\0")
                if tag.startswith((b"CREATE TABLE", b"SELECT")):  # CREATE TABLE AS reports SELECT n
                    if len(key.table) == 1 and self.search_path:
                        key = dataclasses.replace(key, search_path=self.search_path)
                    self.keys_pending.append(key)
                return
        if not (self.keys_pending or self.keys_committed):
            return
        tag = body.rstrip(b"\0")
        if tag == b"COMMIT":
            self.keys_committed += self.keys_pending
            self.keys_pending = []
        elif tag in (b"ROLLBACK", b"PREPARE TRANSACTION"):
            # ROLLBACK (also COMMIT of a failed transaction, and ROLLBACK TO SAVEPOINT, which may
            # keep the CREATE: its index is then not built) or a prepared transaction.
            self.keys_pending = []

    def _on_ready(self, status: bytes) -> None:
        failed, self.segment_failed = self.segment_failed, False
        if status == b"E" or (status == b"I" and failed):
            self.keys_pending = []  # aborted, or an implicit transaction that failed and rolled back
        elif status == b"I":
            self.keys_committed += self.keys_pending
            self.keys_pending = []
        if self.keys_committed:
            keys, self.keys_committed = self.keys_committed, []
            self.ep.build_sortkey_indexes(self.startup.database, self.startup.user, keys)

    async def _copy_error(self, job: CopyJob, fields: dict[str, str], out: bytearray) -> bytes:
        job.aborted.set()
        if job.failure is not None:  # our own CopyFail
            f = job.failure
            return p.error_response(f.code, f.message, detail=f.detail)
        # PostgreSQL rejected a row we converted (type, length, column count): record it like Redshift.
        context = fields.get("W", "")
        m = _COPY_CONTEXT.search(context)
        if m:
            src = job.source_of(int(m.group(1)))
            url, line = src if src else (job.spec.source, int(m.group(1)))
            raw = ""
            try:
                client = self.ep.s3.client(job.spec.credentials, job.spec.region)
                raw = await asyncio.to_thread(raw_line_of, client, url, line, job.spec.gzip)
            except Exception:  # noqa: BLE001 - raw_line is best effort
                pass
            err = RowError(url, line, (m.group(2) or "").strip(), raw, fields.get("M", "")[:100],
                           (m.group(3) or "")[:1024], 1200)
        else:
            err = RowError(job.spec.source, 0, "", "", fields.get("M", "")[:100], "", 1200)
        if out:  # keep order: what came before the error goes first
            self.cwriter.write(bytes(out))
            out.clear()
        await self._record(job, [err])
        return p.error_response("XX000", load_failed_message(job.table),
                                detail=f"{fields.get('M', '')} ({context})" if context else fields.get("M"))
