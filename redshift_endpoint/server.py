"""The endpoint server: configuration, and what its sessions share (S3 clients, worker pool, own backend connections).

Run it with ``python -m redshift_endpoint`` (__main__.py).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from redshift_endpoint import limits
from redshift_endpoint import protocol as p
from redshift_endpoint.auth import Credentials
from redshift_endpoint.backend import BackendConnections
from redshift_endpoint.catalog import Catalog
from redshift_endpoint.load_errors import LoadErrorsTable
from redshift_endpoint.relay import Session, SessionServices
from redshift_endpoint.s3source import S3Clients
from redshift_endpoint.sortkey_index import SortKeyIndexer

log = logging.getLogger(__name__)


@dataclass
class EndpointConfig:
    host: str = "127.0.0.1"
    port: int = 5439
    backend_host: str = "127.0.0.1"
    backend_port: int = 5432
    s3_endpoint_url: str | None = None
    # Who may log in (auth.py): admin_user with admin_password (default: PGPASSWORD), and the
    # users of auth_file. The endpoint's own backend connections (backend.py: catalog look-ups,
    # stl_load_errors, sort-key indexes, the redshift_compat schema) log in as admin_user.
    admin_user: str | None = None
    admin_password: str | None = None
    auth_file: str | None = None
    login_timeout: float = limits.LOGIN_SECONDS
    workers: int | None = None            # conversion processes; 0 = convert in threads only


class Endpoint:
    def __init__(self, config: EndpointConfig):
        self.config = config
        password = config.admin_password if config.admin_password is not None else os.environ.get("PGPASSWORD")
        credentials = Credentials.configure(config.admin_user, password, config.auth_file)
        s3 = S3Clients(config.s3_endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
                       or os.environ.get("AWS_ENDPOINT_URL"))
        workers = config.workers if config.workers is not None else (os.cpu_count() or 1)
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 0 else None
        conns = BackendConnections(config.backend_host, config.backend_port, config.admin_user, password)
        self.services = SessionServices(
            backend_host=config.backend_host, backend_port=config.backend_port, s3=s3, pool=pool,
            large_messages=limits.ByteBudget(limits.LARGE_MESSAGES_BUDGET), conns=conns, catalog=Catalog(conns),
            load_errors=LoadErrorsTable(conns), sortkeys=SortKeyIndexer(conns), credentials=credentials,
            login_timeout=config.login_timeout,
        )
        self.slots = limits.ConnectionSlots()
        self.sessions: set[asyncio.Task] = set()
        self.server: asyncio.base_events.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = str((writer.get_extra_info("peername") or ("?",))[0])

        def evict() -> None:   # its pre-login slot went to a newcomer (limits.ConnectionSlots)
            writer.write(p.error_response("53300", "too many connections waiting to log in", severity="FATAL"))
            writer.close()

        token = self.slots.admit(address, evict)
        if token is None:
            writer.write(p.error_response(
                "53300", f"too many connections from {address} waiting to log in", severity="FATAL"))
            writer.close()
            return
        logged_in = False

        def log_in() -> bool:
            nonlocal logged_in
            logged_in = self.slots.log_in(address, token)
            return logged_in

        task = asyncio.current_task()
        self.sessions.add(task)
        try:
            await Session(self.services, reader, writer, login=log_in).run()
        except asyncio.CancelledError:
            writer.close()  # the endpoint is shutting down (Python 3.11's asyncio would log it as an error)
        except Exception:  # noqa: BLE001 - one broken session must not stop the server
            log.exception("session crashed")
            writer.close()
        finally:
            self.slots.release(address, token, logged_in)
            self.sessions.discard(task)

    async def start(self) -> tuple[str, int]:
        # limit: StreamReader's buffer; reads of whole messages go beyond it, bounded by limits.py.
        self.server = await asyncio.start_server(self._handle, self.config.host, self.config.port,
                                                 limit=1 << 16)
        host, port = self.server.sockets[0].getsockname()[:2]
        return host, port

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for t in list(self.sessions):
            t.cancel()
        await self.services.sortkeys.close()
        await self.services.conns.close()
        if self.services.pool is not None:
            self.services.pool.shutdown(wait=False, cancel_futures=True)


async def serve(config: EndpointConfig, ready=None) -> None:
    """Run until cancelled; ``ready(host, port)`` is called once connections are accepted."""
    endpoint = Endpoint(config)
    host, port = await endpoint.start()
    log.info("Redshift endpoint on %s:%d -> PostgreSQL %s:%d", host, port, config.backend_host,
             config.backend_port)
    if ready is not None:
        ready(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)  # clean shutdown instead of KeyboardInterrupt noise
    try:
        await stop.wait()
    finally:
        await endpoint.close()


def run_server(config: EndpointConfig) -> None:
    def ready(host: str, port: int) -> None:
        sys.stdout.write(f"listening on {host}:{port}\n")
        sys.stdout.flush()

    try:
        asyncio.run(serve(config, ready))
    except KeyboardInterrupt:
        pass
