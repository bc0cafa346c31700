"""One client connection: relay to PostgreSQL, rewrite Redshift SQL, inject COPY data.

Nothing but the start-up packet and the SCRAM exchange is read from a client until the endpoint
itself has authenticated it (``_login_client``, auth.py): no backend, no rewriting, no S3. Only then
is a PostgreSQL backend opened and logged into (backend_login.py).

Then three tasks per connection:
* ``_read_client`` queues the client's messages (so a disconnect is noticed even mid-COPY);
* ``_client_to_backend`` rewrites Query/Parse, tracks statement -> portal -> COPY, and after
  forwarding an Execute/Query that runs an S3 COPY, streams that COPY's data before handling the
  next client message;
* ``_backend_to_client`` forwards responses, hides the CopyInResponse of injected COPYs (one
  expectation per response segment, i.e. per Sync/Query), rewrites COPY errors in Redshift's words,
  and presents a parseable server_version.

Sort keys: a CREATE TABLE with a SORTKEY is matched to its CommandComplete (the n-th statement
result of its segment); the key is then pending until the transaction commits (ReadyForQuery 'I'
or a COMMIT), when sortkey_index.py builds the index in the background; a rollback, an error
in an implicit transaction or an aborted transaction drops it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from redshift_endpoint import backend_login, binary, limits
from redshift_endpoint import protocol as p
from redshift_endpoint.auth import AuthFailed, BackendSecret, Credentials, authenticate
from redshift_endpoint.backend import BackendConnections, databases_named_by
from redshift_endpoint.catalog import Catalog
from redshift_endpoint.convert import RowError
from redshift_endpoint.copy_spec import CopySpec
from redshift_endpoint.load_errors import LoadErrorsTable
from redshift_endpoint.loader import (
    CopyJob,
    Injector,
    LoadFailed,
    load_failed_message,
    raw_line_of,
    resolve_columns,
)
from redshift_endpoint.s3source import S3Clients
from redshift_endpoint.sortkey_index import SortKeyIndexer
from redshift_endpoint.sql import compat_schema
from redshift_endpoint.sql.translate import Rewritten, SortKey, TableDef, lookup_name, redact, rewrite
from redshift_endpoint.startup import Startup, clean_server_version, read_startup
from redshift_endpoint.unload import UnloadError, UnloadJob, UnloadSpec

log = logging.getLogger(__name__)

_SEGMENT_END = {b"Q", b"S", b"F"}   # client messages answered by exactly one ReadyForQuery
_WATCHED = {ord(c) for c in "GEZSCKRIsH"}
_RESULTS = {b"C", b"I", b"s"}        # the one result of an Execute (or of a simple-Query statement)
# Errors that mean the backend itself is going away (or the query was cancelled): passed through
# as they are, never turned into a "Load into table failed".
_PASS_THROUGH_ERRORS = ("57014", "57P01", "57P02", "57P03", "08")
# Sent right behind the Execute of a TRUNCATE (extended protocol), since a TRUNCATE commits its
# transaction in Redshift; named so that the client's unnamed statement and portal are untouched.
_COMMIT_STMT, _COMMIT_PORTAL = b"redshift_endpoint_truncate_commit", b"redshift_endpoint_truncate_commit"
_COMMIT_MESSAGES = b"".join((
    p.message(b"C", b"S" + _COMMIT_STMT + b"\0"),
    p.message(b"P", _COMMIT_STMT + b"\0COMMIT\0\0\0"),
    p.message(b"B", _COMMIT_PORTAL + b"\0" + _COMMIT_STMT + b"\0\0\0\0\0\0\0"),
    p.message(b"E", _COMMIT_PORTAL + b"\0\0\0\0\0"),
    p.message(b"C", b"P" + _COMMIT_PORTAL + b"\0"),
))
_COMMIT_RESPONSES = (b"3", b"1", b"2", b"C", b"3")
_COPY_CONTEXT = re.compile(r"COPY [^,]+, line (\d+)(?:, column ([^:]+))?(?:: \"(.*)\")?", re.S)


@dataclass(frozen=True)
class SessionServices:
    """What a session uses that outlives it, shared by all sessions of the endpoint (server.py builds it)."""
    backend_host: str
    backend_port: int
    s3: S3Clients
    pool: Executor | None                 # conversion worker processes; None: threads only
    large_messages: limits.ByteBudget     # bytes of large client messages in hand, over all sessions
    conns: BackendConnections             # the endpoint's own connections (redshift_compat schema)
    catalog: Catalog
    load_errors: LoadErrorsTable
    sortkeys: SortKeyIndexer
    credentials: Credentials              # who may log in (auth.py)
    login_timeout: float = limits.LOGIN_SECONDS


class Session:
    def __init__(self, services: SessionServices, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 login: Callable[[], bool] | None = None):
        self.services = services
        self.login = login          # called once the client has authenticated: False refuses it (53300)
        self.creader, self.cwriter = reader, writer
        self.breader: asyncio.StreamReader | None = None
        self.bwriter: asyncio.StreamWriter | None = None
        self.startup: Startup | None = None
        self.queue: asyncio.Queue = asyncio.Queue()
        self.queued = 0                            # bytes of client messages in the queue or in hand
        self.queue_room = asyncio.Event()
        self.large_held = 0                        # of those, drawn on the endpoint's shared budget
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
        # UNLOAD (unload.py): statement/portal -> spec; per segment, (result ordinal, job) whose
        # copy-out is hidden and written to S3; the job collecting rows right now.
        self.unload_stmts: dict[bytes, UnloadSpec] = {}
        self.unload_portals: dict[bytes, UnloadSpec] = {}
        self.unload_expect: dict[int, deque[tuple[int, UnloadJob]]] = defaultdict(deque)
        self.unloading: UnloadJob | None = None
        self.compat_ready = False                  # the redshift_compat schema was checked (sql/compat_schema.py)
        # TRUNCATE commits its transaction (r_TRUNCATE): statements/portals that are a TRUNCATE; per
        # segment, the result ordinals of TRUNCATEs; the responses of our COMMIT still to hide.
        self.truncate_stmts: set[bytes] = set()
        self.truncate_portals: set[bytes] = set()
        self.truncate_expect: dict[int, deque[tuple[int, bool]]] = defaultdict(deque)   # (ordinal, extended)
        self.hiding: deque[bytes] = deque()

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        try:
            secret = await asyncio.wait_for(self._login_client(), self.services.login_timeout)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ValueError, AuthFailed) as e:
            # A refused login is worth a line; a socket that went away or timed out is flood noise.
            log.log(logging.INFO if isinstance(e, AuthFailed) else logging.DEBUG,
                    "client %s: login aborted: %s", self.peer, e)
            if isinstance(e, AuthFailed | ValueError | TimeoutError) and self.startup is not None:
                code, text = ((e.sqlstate, str(e)) if isinstance(e, AuthFailed)
                              else ("57014", "canceling authentication due to timeout")   # PostgreSQL's words
                              if isinstance(e, TimeoutError) else ("08P01", f"login failed: {e}"))
                self.cwriter.write(p.error_response(code, text, severity="FATAL"))
                await self._safe_drain(self.cwriter)
            self.cwriter.close()
            return
        if secret is None:   # a CancelRequest, passed on
            return
        if not await self._open_backend(secret):
            self.cwriter.close()
            return
        log.debug("session %s user=%s db=%s", self.peer, self.startup.user, self.startup.database)
        tasks = [asyncio.ensure_future(c) for c in (self._read_client(), self._client_to_backend(),
                                                    self._backend_to_client())]
        try:
            done, _ = await asyncio.wait(tasks[1:], return_when=asyncio.FIRST_COMPLETED)
            failure = next((t.exception() for t in done if t.exception() is not None), None)
            if isinstance(failure, p.ProtocolViolation):
                log.info("client %s: %s", self.peer, failure)
                self.cwriter.write(p.error_response("08P01", f"invalid frontend message: {failure}",
                                                    severity="FATAL"))
            elif tasks[2] not in done and not self.client_gone.is_set():
                # Writing to the backend failed (it is going away) or the client said Terminate:
                # let the backend's last words (57P01, ...) and our 08006 reach the client first.
                await asyncio.wait([tasks[2]], timeout=5)
            if failure is not None and not isinstance(failure, ConnectionError | asyncio.IncompleteReadError
                                                      | p.ProtocolViolation):
                log.error("session %s failed", self.peer, exc_info=failure)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.services.large_messages.release(self.large_held)
            self.large_held = 0
            self.bwriter.close()
            self.cwriter.close()

    async def _login_client(self) -> BackendSecret | None:
        """Start-up packet and SCRAM exchange with the client (auth.py); no backend is open yet.

        Nothing but the start-up packet and SASL messages (each at most limits.AUTH_MESSAGE_BYTES)
        is read from the client; anything else ends the connection, unread beyond its header.
        """
        self.startup = await read_startup(self.creader, self.cwriter)
        if self.startup.kind == "cancel":
            await self._pass_cancel()
            return None
        secret = await authenticate(self.creader, self.cwriter, self.startup.user, self.services.credentials,
                                    self.startup.redshift_driver)
        if self.login is not None and not self.login():
            raise AuthFailed("53300", "sorry, too many clients already")
        return secret

    async def _pass_cancel(self) -> None:
        """A CancelRequest names a backend by its secret key, which is authentication enough."""
        try:
            _, w = await asyncio.wait_for(
                asyncio.open_connection(self.services.backend_host, self.services.backend_port), 10)
        except (OSError, TimeoutError) as e:
            log.warning("cannot reach the PostgreSQL backend: %s", e)
        else:
            w.write(self.startup.raw)
            await self._safe_drain(w)
            w.close()
        self.cwriter.close()

    async def _open_backend(self, secret: BackendSecret) -> bool:
        """Connect to PostgreSQL and log in as the client's user; AuthenticationOk goes to the client then."""
        where = f"{self.services.backend_host}:{self.services.backend_port}"
        try:
            self.breader, self.bwriter = await asyncio.wait_for(
                asyncio.open_connection(self.services.backend_host, self.services.backend_port), 10)
            await asyncio.wait_for(backend_login.login(self.breader, self.bwriter, self.startup.raw, secret),
                                   self.services.login_timeout)
        except backend_login.BackendRefused as e:   # no such database, too many connections, ...
            self.cwriter.write(p.message(b"E", e.body))
        except AuthFailed as e:
            self.cwriter.write(p.error_response(e.sqlstate, str(e), severity="FATAL"))
        except (OSError, TimeoutError, asyncio.IncompleteReadError, p.ProtocolViolation) as e:
            log.warning("cannot log in to the PostgreSQL backend at %s: %s", where, e)
            self.cwriter.write(p.error_response(
                "08006", f"could not connect to the PostgreSQL backend at {where}: {e}", severity="FATAL"))
        else:
            self.cwriter.write(p.message(b"R", p.pack_int32(0)))   # AuthenticationOk; the backend's
            return True                                           # ParameterStatus etc. follow it
        await self._safe_drain(self.cwriter)
        if self.bwriter is not None:
            self.bwriter.close()
        return False

    @staticmethod
    async def _safe_drain(writer: asyncio.StreamWriter) -> None:
        try:
            await writer.drain()
        except (ConnectionError, RuntimeError):
            pass

    async def _read_client(self) -> None:
        try:
            while True:
                while self.queued >= limits.SESSION_QUEUE_BYTES:   # back-pressure on this client only
                    self.queue_room.clear()
                    await self.queue_room.wait()
                mtype, size = await p.read_header(self.creader)
                limit = limits.STATEMENT_BYTES if mtype in (b"Q", b"P") else limits.MESSAGE_BYTES
                if size > limit:
                    self._refuse_oversized(mtype, size, limit)
                    return
                if size > limits.LARGE_MESSAGE_BYTES:
                    await self.services.large_messages.acquire(size)
                    self.large_held += size
                self.queued += size + limits.MESSAGE_OVERHEAD
                body = await self.creader.readexactly(size) if size else b""
                await self.queue.put((mtype, body))
                if mtype == b"X":
                    return
        except (asyncio.IncompleteReadError, ConnectionError, p.ProtocolViolation):
            self.client_gone.set()
            await self.queue.put(None)

    def _refuse_oversized(self, mtype: bytes, size: int, limit: int) -> None:
        """Too large to relay: say so and end the session (the body is never read)."""
        what = "Statement" if mtype in (b"Q", b"P") else "Message"
        log.warning("client %s sent a %d-byte %r message: refused", self.peer, size, mtype)
        self.cwriter.write(p.error_response(
            "54000", f"{what} is too large. {what} Size: {size} bytes. Maximum Allowed: {limit} bytes",
            severity="FATAL"))
        self.client_gone.set()
        self.queue.put_nowait(None)

    def _consumed(self, size: int) -> None:
        """A client message has been relayed: its bytes no longer count against the limits."""
        self.queued -= size + limits.MESSAGE_OVERHEAD
        self.queue_room.set()
        if size > limits.LARGE_MESSAGE_BYTES:
            self.large_held -= size
            self.services.large_messages.release(size)

    # ------------------------------------------------------------------ client -> backend
    async def _client_to_backend(self) -> None:
        w = self.bwriter
        in_hand: int | None = None   # size of the message being relayed: released at the next get
        while True:
            if in_hand is not None:
                self._consumed(in_hand)
            msg = await self.queue.get()
            in_hand = len(msg[1]) if msg else None
            if msg is None:
                return  # client gone: closing the backend rolls back whatever was open
            mtype, body = msg
            if mtype == b"Q":
                await self._query(body)
                continue
            if mtype == b"P":
                name, text, tail = p.parse_parse(body)
                rw = await self._choose_formats(text, await self._rewrite(text))
                await self._prepare_dialect(rw)
                self.statements[name] = rw.copies[0] if rw.copies else None
                if rw.unloads:
                    self.unload_stmts[name] = rw.unloads[0][1]
                elif self.unload_stmts:
                    self.unload_stmts.pop(name, None)
                if rw.sortkeys:
                    self.stmt_keys[name] = rw.sortkeys[0][1]
                elif self.stmt_keys:
                    self.stmt_keys.pop(name, None)
                if rw.truncates:
                    self.truncate_stmts.add(name)
                else:
                    self.truncate_stmts.discard(name)
                w.write(p.build_parse(name, rw.sql, tail) if rw.changed else p.message(mtype, body))
            elif mtype == b"B":
                portal, stmt = p.parse_bind(body)
                self.portals[portal] = self.statements.get(stmt)
                if stmt in self.unload_stmts:
                    self.unload_portals[portal] = self.unload_stmts[stmt]
                elif self.unload_portals:
                    self.unload_portals.pop(portal, None)
                if stmt in self.stmt_keys:
                    self.portal_keys[portal] = self.stmt_keys[stmt]
                elif self.portal_keys:
                    self.portal_keys.pop(portal, None)
                if stmt in self.truncate_stmts:
                    self.truncate_portals.add(portal)
                else:
                    self.truncate_portals.discard(portal)
                w.write(p.message(mtype, body))
            elif mtype == b"E":
                portal = p.parse_execute(body)
                if portal in self.portal_keys:
                    self.key_expect[self.segments_sent].append((self.results_sent, self.portal_keys[portal]))
                if portal in self.unload_portals:
                    self.unload_expect[self.segments_sent].append(
                        (self.results_sent, UnloadJob(self.unload_portals[portal])))
                truncate = portal in self.truncate_portals
                if truncate:
                    self.truncate_expect[self.segments_sent].append((self.results_sent, True))
                self.results_sent += 1
                spec = self.portals.get(portal)
                if spec is not None:
                    job = self._expect(spec)
                    w.write(p.message(mtype, body))
                    await self._inject(job)
                    continue
                w.write(p.message(mtype, body))
                if truncate:
                    w.write(_COMMIT_MESSAGES)   # right behind the TRUNCATE: its responses are hidden
            elif mtype == b"C":
                kind, name = p.parse_target(body)
                (self.truncate_stmts if kind == b"S" else self.truncate_portals).discard(name)
                (self.statements if kind == b"S" else self.portals).pop(name, None)
                (self.stmt_keys if kind == b"S" else self.portal_keys).pop(name, None)
                (self.unload_stmts if kind == b"S" else self.unload_portals).pop(name, None)
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

    @staticmethod
    async def _run_rewrite(text: str, *args) -> Rewritten:
        """rewrite(), in a thread for long statements so that other sessions keep being served."""
        if len(text) <= limits.REWRITE_INLINE_CHARS:
            return rewrite(text, *args)
        return await asyncio.to_thread(rewrite, text, *args)

    async def _rewrite(self, text: str, simple: bool = False):
        for dbname in databases_named_by(text):   # PostgreSQL refuses while the endpoint holds one open
            await self.services.conns.release_database(dbname)
            self.services.load_errors.forget_database(dbname)
        rw = await self._run_rewrite(text, (), simple)
        if rw.lateral_tables:
            rw = await self._run_rewrite(text, (), simple, await self._lateral_columns(rw))
        if rw.changed and log.isEnabledFor(logging.DEBUG):
            log.debug("rewrote %r -> %r", redact(text)[:500], redact(rw.sql)[:500])
        for t in rw.tables:
            self.tables[t.key] = t
        for name in rw.dropped:
            self.tables.pop(name.split(".")[-1], None)
        if rw.search_path is not None:
            self.search_path = rw.search_path or None
        return rw

    async def _lateral_columns(self, rw: Rewritten) -> dict[tuple[str, ...], list[str] | None]:
        """Columns of the FROM tables of lateral column alias references: the catalog (committed tables, on
        the client's search_path), else the tables this session or this very text created (temporary or
        not committed yet: their columns as created, a later ALTER TABLE unseen)."""
        found: dict[tuple[str, ...], list[str] | None] = {}
        created = {**self.tables, **{t.key: t for t in rw.tables}}
        for parts in rw.lateral_tables:
            table = created.get(parts[-1])
            if table is not None and not (len(parts) == 1 or tuple(table.parts) == parts):
                table = None
            try:
                found[parts] = await self.services.catalog.column_names(
                    self.startup.database, self.startup.user,
                    lookup_name(table.like if table is not None and table.like else list(parts)), self.search_path)
            except Exception as e:  # noqa: BLE001 - left out: that SELECT goes to PostgreSQL as written
                log.warning("could not read the columns of %s: %s", ".".join(parts), e)
                continue
            if found[parts] is None and table is not None and not table.like:
                found[parts] = [c.name for c in table.columns]
        return found

    async def _query(self, body: bytes) -> None:
        text = p.query_text(body)
        rw = await self._choose_formats(text, await self._rewrite(text, simple=True), simple=True)
        await self._prepare_dialect(rw)
        jobs = [self._expect(spec) for spec in rw.copies]
        if rw.truncates:   # (never touch the defaultdict otherwise: one entry per segment adds up)
            self.truncate_expect[self.segments_sent].extend((k, False) for k in rw.truncates)
        for ordinal, spec in rw.unloads:
            self.unload_expect[self.segments_sent].append((ordinal, UnloadJob(spec)))
        if rw.sortkeys:
            self.key_expect[self.segments_sent].extend(rw.sortkeys)
        self.bwriter.write(p.build_query(rw.sql) if rw.changed else p.message(b"Q", body))
        self.segments_sent += 1
        self.results_sent = 0
        for job in jobs:
            await self._inject(job)
        await self.bwriter.drain()

    async def _prepare_dialect(self, rw: Rewritten) -> None:
        """Statements calling the redshift_compat schema need it in this database first."""
        if rw.compat and not self.compat_ready:
            self.compat_ready = await compat_schema.ensure(self.services.conns, self.startup.database, self.startup.user)

    async def _choose_formats(self, text: str, rw: Rewritten, simple: bool = False) -> Rewritten:
        """Rewrite again with FORMAT binary for the S3 COPYs whose target types allow it.

        The format is part of the statement PostgreSQL receives now, while the rows come at
        Execute: so the column types are looked up here (and checked again at Execute).
        """
        if not rw.copies:
            return rw
        types = [await self._binary_types(spec) for spec in rw.copies]
        if not any(types):
            return rw
        rw = await self._run_rewrite(text, [t is not None for t in types], simple, rw.lateral_columns)
        for spec, t in zip(rw.copies, types, strict=True):
            spec.binary_types = t or ()
        return rw

    async def _binary_types(self, spec: CopySpec) -> tuple[str | None, ...] | None:
        if spec.fmt != "json":
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
        injector = Injector(s3=self.services.s3, pool=self.services.pool, backend=self.bwriter, client_gone=self.client_gone)
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
            return await self.services.catalog.columns(self.startup.database, self.startup.user, lookup_name(parts))
        except Exception as e:  # noqa: BLE001
            raise LoadFailed(f"cannot read the columns of {'.'.join(parts)}: {e}", "58000") from e

    async def _record(self, job: CopyJob, errors: list[RowError]) -> None:
        try:
            await self.services.load_errors.record(self.startup.database, self.startup.user, table=job.table,
                                       tbl_oid=job.tbl_oid, session=self.backend_pid, errors=errors)
        except Exception:  # noqa: BLE001 - the load error still reaches the client
            log.exception("could not write stl_load_errors")

    # ------------------------------------------------------------------ backend -> client
    async def _backend_to_client(self) -> None:
        buf = bytearray()
        out = bytearray()
        cw = self.cwriter
        through = 0   # bytes of a large message (a wide row, say) still to stream to the client as they come
        try:
            while True:
                data = await self.breader.read(1 << 18)
                if not data:
                    break
                if through:
                    cw.write(data[:through])
                    data, through = data[through:], max(0, through - len(data))
                    if not data:
                        await cw.drain()
                        continue
                buf += data
                pos, n = 0, len(buf)
                while n - pos >= 5:
                    length = int.from_bytes(buf[pos + 1: pos + 5], "big")
                    end = pos + 1 + length
                    mtype = buf[pos]
                    watched = mtype in _WATCHED or self.unloading is not None or bool(self.hiding)
                    if end > n:
                        if length > limits.PASS_THROUGH_BYTES and not watched:
                            out += buf[pos:n]
                            through, pos = end - n, n
                        break
                    if watched:
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
        if self.hiding:
            hidden = self._hide_commit(mtype, body)
            if hidden is not None:
                return hidden
        if self.unloading is not None or mtype == b"H":
            replaced = await self._on_unload_message(mtype, body)
            if replaced is not None:
                return replaced
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
                self._after_truncate(body)
            self.results_seen += 1
            return None
        if mtype == b"E":
            self.segment_failed = True  # the rest of the segment is skipped: its results never come
            job, self.in_copy = self.in_copy, None
            if job is None:
                return None
            fields = p.error_fields(body)
            if job.failure is None and fields.get("C", "").startswith(_PASS_THROUGH_ERRORS):
                job.aborted.set()  # cancelled (57014) or the backend is shutting down (57P0x, 08xxx)
                return None
            return await self._copy_error(job, fields, out)
        if mtype == b"Z":
            self.unload_expect.pop(self.segments_seen, None)
            if self.segments_seen == 0:  # the session is authenticated and ready: system tables first
                await self.services.load_errors.ensure_system_tables(self.startup.database, self.startup.user)
            self.expect.pop(self.segments_seen, None)
            self.key_expect.pop(self.segments_seen, None)
            self.truncate_expect.pop(self.segments_seen, None)
            self.hiding.clear()
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
        return None

    # ------------------------------------------------------------------ UNLOAD
    async def _on_unload_message(self, mtype: bytes, body: bytes) -> bytes | None:
        """Hide an UNLOAD's copy-out (H, d, c) and answer its CommandComplete once S3 has the files."""
        if mtype == b"H":
            expected = self.unload_expect.get(self.segments_seen)
            if expected and expected[0][0] == self.results_seen:
                self.unloading = expected.popleft()[1]
                return b""
            return None
        job = self.unloading
        if mtype == b"d":
            job.add(body)
            return b""
        if mtype == b"c":
            return b""
        if mtype != b"C":
            if mtype == b"E":
                self.unloading = None   # the query failed: the client sees PostgreSQL's error
            return None                 # a notice or parameter status passes through
        self.unloading = None
        self.results_seen += 1
        try:
            client = self.services.s3.client(job.spec.credentials, job.spec.region)
            result = await asyncio.to_thread(job.write, client)
        except UnloadError as e:
            self.segment_failed = True
            return p.error_response(e.code, str(e))
        except Exception as e:  # noqa: BLE001 - S3 unreachable, bad credentials: the client must hear
            log.warning("UNLOAD to %s failed: %s", job.spec.target, e)
            self.segment_failed = True
            return p.error_response("XX000", f"UNLOAD to '{job.spec.target}' failed: {type(e).__name__}")
        log.info("UNLOAD %d rows to %d file(s) under %s", result.rows, len(result.files), job.spec.target)
        return p.message(b"C", b"UNLOAD\0")

    # ------------------------------------------------------------------ TRUNCATE commits
    def _after_truncate(self, body: bytes) -> None:
        """A TRUNCATE's CommandComplete: the COMMIT sent behind it answers next, hidden."""
        expected = self.truncate_expect.get(self.segments_seen)
        while expected and expected[0][0] < self.results_seen:
            expected.popleft()
        if expected and expected[0][0] == self.results_seen:
            extended = expected.popleft()[1]
            if body.startswith(b"TRUNCATE"):
                # Extended protocol: CloseComplete, ParseComplete, BindComplete, COMMIT, CloseComplete;
                # simple Query: the COMMIT the rewrite added.
                self.hiding.extend(_COMMIT_RESPONSES if extended else (b"C",))

    def _hide_commit(self, mtype: bytes, body: bytes) -> bytes | None:
        """Hide the responses to our COMMIT (and its 'no transaction in progress' warning)."""
        if mtype == b"N" and p.error_fields(body).get("C") == "25P01":
            return b""
        if mtype in (b"E", b"Z"):
            self.hiding.clear()
            return None
        if mtype == self.hiding[0]:
            self.hiding.popleft()
            if mtype == b"C":   # the transaction is committed: pending sort-key indexes can be built
                self.keys_committed += self.keys_pending
                self.keys_pending = []
            return b""
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
            self.services.sortkeys.build_in_background(self.startup.database, self.startup.user, keys)

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
                client = self.services.s3.client(job.spec.credentials, job.spec.region)
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
