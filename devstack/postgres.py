"""A private PostgreSQL server for the local stack and the test suite.

The cluster lives in its own data directory, listens on loopback only and authenticates every
connection with a password (scram-sha-256), over TCP and the Unix socket alike. `initdb` and
`postgres` refuse to run as root, so when we are root they run as the unprivileged `postgres`
user (Debian's package creates it), falling back to `nobody`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devstack.processes import StartupError, port_open, tail

# Throwaway local data: durability settings traded for speed (about 3x faster loads).
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "256MB",
    "max_wal_size": "2GB",
    "log_min_messages": "warning",
}


def find_bindir() -> Path:
    """Directory holding initdb/pg_ctl/postgres: $PG_BINDIR, PATH, or the newest Debian install."""
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise StartupError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: run `make prereqs` "
        "(installs Debian's postgresql package) or set PG_BINDIR."
    )


def server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise StartupError("running as root and neither a 'postgres' nor a 'nobody' account exists")


def untraversable_parent(path: Path) -> Path | None:
    """The first parent of `path` that the server's account cannot enter (only matters as root)."""
    if server_account() is None:
        return None
    for parent in path.resolve().parents:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            return parent
    return None


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in `data_dir`, listening on host:port."""

    data_dir: Path
    port: int
    password: str
    user: str = "sparkify"
    dbname: str = "dev"
    host: str = "127.0.0.1"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    def dsn(self, dbname: str | None = None) -> str:
        """libpq key/value connection string (password included: never log it)."""
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={dbname or self.dbname}"
        )

    conninfo = dsn

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        account = server_account()
        extra = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
        return subprocess.run(
            [str(find_bindir() / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd="/",
            **extra,
            **kwargs,
        )

    def _check_reachable(self) -> None:
        blocked = untraversable_parent(self.data_dir)
        if blocked:
            raise StartupError(
                f"{blocked} is not traversable by the '{server_account().pw_name}' account that runs PostgreSQL "
                "(we are root); move the checkout or set SPARKIFY_DEVSTACK_DIR to a path under /tmp"
            )

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with password authentication; creates the `dbname` database."""
        self._check_reachable()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        account = server_account()
        if account:
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
            os.chown(self.data_dir.parent, account.pw_uid, account.pw_gid)
        os.chmod(self.data_dir, 0o700)
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir.parent, delete=False) as pwfile:
            pwfile.write(self.password + "\n")
        try:
            if account:
                os.chown(pwfile.name, account.pw_uid, account.pw_gid)
            result = self._run(
                [
                    "initdb", "-D", str(self.data_dir), "-U", self.user, f"--pwfile={pwfile.name}",
                    "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8",
                    "--locale=C", "--no-sync",
                ]
            )
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            raise StartupError(f"initdb failed in {self.data_dir}:\n{result.stderr.strip()}")
        settings = {**FAST_SETTINGS, "listen_addresses": f"'{self.host}'", "unix_socket_directories": f"'{self.data_dir}'"}
        with open(self.data_dir / "postgresql.auto.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def running(self) -> bool:
        return self._run(["pg_ctl", "status", "-D", str(self.data_dir)]).returncode == 0

    def start(self, timeout: int = 60) -> None:
        """Start the server (initialising it first if needed); harmless when already running."""
        if not self.initialized():
            self.init()
        if self.running():
            if port_open(self.host, self.port):
                return
            self.stop()  # running on another port than recorded: restart on ours
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not self.running():
            stale.unlink()  # left by a crash or reboot; pg_ctl would otherwise warn
        result = self._run(
            ["pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", str(timeout), "-l", str(self.log_file),
             "-o", f"-p {self.port}"]
        )
        if result.returncode != 0:
            raise StartupError(
                f"PostgreSQL failed to start on {self.host}:{self.port} (data dir {self.data_dir}):\n"
                f"{result.stderr.strip()}\n{tail(self.log_file)}"
            )
        self.ensure_database()

    def ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)).fetchone():
                conn.execute(f'CREATE DATABASE "{self.dbname}"')

    def ensure_role_database(self, role: str, password: str, dbname: str) -> None:
        """A login role owning a database of its own (the local Airflow's metadata database)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            # Always (re)set: the password lives in stack.json, which may have been recreated.
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(role)))

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server; False when it was not running."""
        if not self.initialized() or not self.running():
            return False
        self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w"])
        return True

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
