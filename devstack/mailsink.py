"""The local stack's notification sink: a real SMTP server (aiosmtpd) that files each message it receives.

The DAG's failure and late-hour notifications go through the smtp provider to the connection
``sparkify_alerts`` (``sparkify.notify``); locally that connection points here, and every message lands
as one ``.eml`` file (mode 0600, written whole then renamed) in ``<state dir>/mail/``: read it with any
mail reader, ``cat``, or :meth:`MailSink.messages`. Nothing is relayed anywhere.

Run alone: ``python -m devstack.mailsink --host 127.0.0.1 --port 2525 --folder .devstack/mail``.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from devstack.processes import port_open, read_pid, start_daemon, stop_daemon

#: Sender and recipient of the local connection: placeholders, nothing is relayed.
LOCAL_FROM = "airflow@sparkify.local"
LOCAL_TO = "oncall@sparkify.local"


class FolderHandler:
    """aiosmtpd handler: each accepted message becomes one file in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.folder.mkdir(parents=True, exist_ok=True)
        # Nanoseconds in the name: file names sort in arrival order, even within one second.
        now = time.time_ns()
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now // 10**9))}.{now % 10**9:09d}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.folder / f".{name}.partial"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(envelope.original_content or envelope.content)
        partial.rename(self.folder / name)  # readers never see half a message
        print(f"received {name} from {envelope.mail_from} for {', '.join(envelope.rcpt_tos)}", flush=True)
        return "250 Message accepted for delivery"


def serve(host: str, port: int, folder: Path) -> None:
    """Serve until SIGTERM/SIGINT."""
    from aiosmtpd.controller import Controller

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    controller = Controller(FolderHandler(folder), hostname=host, port=port)
    controller.start()
    print(f"SMTP sink listening on {host}:{port}, writing to {folder}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()


@dataclass
class MailSink:
    """The sink bound to host:port, its pid file and log under ``state_dir``, its messages in ``folder``."""

    state_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def folder(self) -> Path:
        return self.state_dir / "mail"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "mail.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "mail.log"

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None and port_open(self.host, self.port, timeout=2)

    def start(self) -> bool:
        """Start the sink unless ours is running; True when a new one started."""
        if self.running():
            return False
        stop_daemon(self.pid_file)  # a crashed or hung sink from an earlier `up`
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        start_daemon(
            "local SMTP sink (aiosmtpd)",
            [sys.executable, "-m", "devstack.mailsink", "--host", self.host, "--port", str(self.port),
             "--folder", str(self.folder)],
            pid_file=self.pid_file,
            log_file=self.log_file,
            ready=lambda: port_open(self.host, self.port),
        )
        return True

    def stop(self) -> bool:
        return stop_daemon(self.pid_file)

    def airflow_connection(self) -> dict:
        """The ``sparkify_alerts`` connection (smtp provider) that sends to this sink: no TLS, no login,
        one quick try (a stopped sink must not hold a failing task for minutes)."""
        return {
            "conn_type": "smtp",
            "host": self.host,
            "port": self.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": LOCAL_FROM, "to": LOCAL_TO,
                      "timeout": 10, "retry_limit": 1},
        }

    def message_files(self) -> list[Path]:
        """The received messages, oldest first."""
        return sorted(self.folder.glob("*.eml")) if self.folder.is_dir() else []

    def messages(self) -> list[EmailMessage]:
        """The received messages, parsed, oldest first."""
        return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in self.message_files()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.mailsink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
