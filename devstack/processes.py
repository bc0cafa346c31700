"""Start, find and stop the local stack's background processes.

Each server runs in its own session (process group) with a pid file, so `down` stops exactly
what `up` started, children included, and a stale pid file (crash, reboot) is recognised.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class StartupError(RuntimeError):
    """A server did not become ready; the message names it and points at its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now on `host` (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def read_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process is still alive; removes a stale file."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if pid_alive(pid):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def start_daemon(
    name: str,
    cmd: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    ready: Callable[[], bool],
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> int:
    """Start `cmd` in a new session, wait until `ready()` is true, record its pid.

    Raises StartupError with the tail of the log when the process exits or times out.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.touch(mode=0o600)
    log_file.chmod(0o600)  # server logs may quote statements or requests: owner only
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file.unlink(missing_ok=True)
            raise StartupError(f"{name} exited with code {proc.returncode}; last log lines:\n{tail(log_file)}")
        if ready():
            return proc.pid
        time.sleep(0.05)
    stop_process_group(proc.pid)
    pid_file.unlink(missing_ok=True)
    raise StartupError(f"{name} not ready after {timeout:.0f}s; last log lines:\n{tail(log_file)}")


def stop_process_group(pid: int, timeout: float = 10.0) -> None:
    """TERM the process group led by `pid`, then KILL what is left after `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def stop_daemon(pid_file: Path) -> bool:
    """Stop the process group recorded in `pid_file`; False when nothing was running."""
    pid = read_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    stop_process_group(pid)
    return True


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file, or a note that it is missing."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"(no log at {path})"
