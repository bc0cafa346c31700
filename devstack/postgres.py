"""A private PostgreSQL server for the local stack and the test suite.

The cluster lives in its own data directory, listens on loopback only and authenticates every
connection with a password (scram-sha-256), over TCP and the Unix socket alike. `initdb` and
`postgres` refuse to run as root, so when we are root they run as the unprivileged `postgres`
user (Debian's package creates it), falling back to `nobody`.

Roles: the cluster's superuser is `postgres`, with a generated password kept inside the data
directory (never handed to clients). The application user (`sparkify`) is an ordinary role with
LOGIN and CREATEDB that owns its database, like Redshift's admin user in its own cluster: it
creates schemas and tables there, but it cannot run `COPY ... PROGRAM`, read or write server files,
or grant itself more. The state directory stays ours; only the data directory and the log file
belong to the server's account, so that account cannot replace our pid files.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
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

SUPERUSER = "postgres"
# The application role: no superuser, no CREATEROLE (which in PostgreSQL 15 could grant itself
# pg_execute_server_program), no replication, no RLS bypass.
APP_ROLE_OPTIONS = "LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


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
    # The stack never logs a failed statement's text (see start()); tests turn it on so that a grep of
    # postgres.log proves no secret was ever *sent* to PostgreSQL, not merely that it was not logged.
    log_failed_statements: bool = False

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

    @property
    def superuser_password_file(self) -> Path:
        return self.data_dir / "devstack-superuser.pw"

    def _prepare_log(self) -> None:
        """The log file belongs to the server's account; its directory (our state dir) does not."""
        self.log_file.touch(exist_ok=True)
        account = server_account()
        if account:
            os.chown(self.log_file, account.pw_uid, account.pw_gid)
            parent = self.data_dir.parent
            if os.stat(parent).st_uid == account.pw_uid:  # given away by an older devstack: take it back
                os.chown(parent, os.geteuid(), os.getegid())

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with password authentication; creates the `dbname` database."""
        self._check_reachable()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user == SUPERUSER:
            raise StartupError(f"the application user cannot be named {SUPERUSER!r}: that is the superuser")
        account = server_account()
        if account:
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        os.chmod(self.data_dir, 0o700)
        su_password = secrets.token_urlsafe(24)
        with tempfile.NamedTemporaryFile("w", dir=self.data_dir.parent, delete=False) as pwfile:
            pwfile.write(su_password + "\n")
        try:
            if account:
                os.chown(pwfile.name, account.pw_uid, account.pw_gid)
            result = self._run(
                [
                    "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={pwfile.name}",
                    "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8",
                    "--locale=C", "--no-sync",
                ]
            )
        finally:
            os.unlink(pwfile.name)
        if result.returncode != 0:
            raise StartupError(f"initdb failed in {self.data_dir}:\n{result.stderr.strip()}")
        fd = os.open(self.superuser_password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(su_password)
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
        self._prepare_log()
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not self.running():
            stale.unlink()  # left by a crash or reboot; pg_ctl would otherwise warn
        result = self._run(
            ["pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", str(timeout), "-l", str(self.log_file),
             # log_min_error_statement=panic: a failed statement's text (a COPY with its CREDENTIALS
             # clause, an ALTER ROLE ... PASSWORD) never reaches postgres.log; the error itself still does.
             "-o", f"-p {self.port} -c log_min_error_statement={'error' if self.log_failed_statements else 'panic'}"]
        )
        if result.returncode != 0:
            raise StartupError(
                f"PostgreSQL failed to start on {self.host}:{self.port} (data dir {self.data_dir}):\n"
                f"{result.stderr.strip()}\n{tail(self.log_file)}"
            )
        self.ensure_role()
        self.ensure_database()

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        """The superuser's connection string (for the devstack itself; never give it to clients)."""
        if not self.superuser_password_file.exists():
            raise StartupError(
                f"{self.data_dir} was created by an older devstack in which {self.user!r} is the superuser; "
                f"remove it (`make clean`, or delete {self.data_dir}) and start again"
            )
        password = self.superuser_password_file.read_text().strip()
        return f"host={self.host} port={self.port} user={SUPERUSER} password={password} dbname={dbname}"

    def ensure_role(self) -> None:
        """The application role exists, with exactly APP_ROLE_OPTIONS and the configured password."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.superuser_dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,)).fetchone()
            conn.execute(sql.SQL("{} ROLE {} " + APP_ROLE_OPTIONS + " PASSWORD {}").format(
                sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(self.user), sql.Literal(self.password)))

    def ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)).fetchone():
                conn.execute(f'CREATE DATABASE "{self.dbname}"')

    def ensure_role_database(self, role: str, password: str, dbname: str) -> None:
        """A login role owning a database of its own (the local Airflow's metadata database)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.superuser_dsn(), autocommit=True) as conn:
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
