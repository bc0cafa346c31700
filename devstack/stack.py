"""The local stack: PostgreSQL, the Redshift-compatible endpoint in front of it, moto's S3, and an SMTP
sink that files the DAG's notifications (`devstack.mailsink`, messages in `.devstack/mail/`).

State (ports, the generated password, pid files, logs, the PostgreSQL data directory) lives in
`.devstack/` under the checkout, or in $SPARKIFY_DEVSTACK_DIR. Ports are picked free on first
`up` and kept, so connection strings stay valid across restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shlex
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from devstack.mailsink import MailSink
from devstack.postgres import PostgresServer, untraversable_parent
from devstack.processes import free_port, port_open, read_pid, start_daemon, stop_daemon
from devstack.s3server import DUMMY_CREDENTIALS, S3Server
from redshift_endpoint.process import EndpointProcess

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUCKET = "sparkify-local"


def state_dir() -> Path:
    return Path(os.environ.get("SPARKIFY_DEVSTACK_DIR", ROOT / ".devstack")).resolve()


@dataclass
class StackConfig:
    """What `up` chose once and every later command reuses."""

    pg_port: int
    endpoint_port: int
    s3_port: int
    password: str
    bucket: str = DEFAULT_BUCKET
    host: str = "127.0.0.1"
    user: str = "sparkify"
    dbname: str = "dev"
    # Password of the `airflow` role that owns the local Airflow's metadata database.
    airflow_db_password: str = ""
    # Port of the SMTP sink (0 in a stack.json written before the sink existed: chosen on load).
    mail_port: int = 0

    @classmethod
    def load_or_create(cls, directory: Path) -> StackConfig:
        path = directory / "stack.json"
        if path.exists():
            config = cls(**json.loads(path.read_text()))
            changed = False
            if not config.airflow_db_password:  # a stack.json from before the local Airflow used PostgreSQL
                config.airflow_db_password = secrets.token_urlsafe(18)
                changed = True
            if not config.mail_port:  # a stack.json from before the SMTP sink
                config.mail_port = int(os.environ.get("SPARKIFY_MAIL_PORT") or free_port())
                changed = True
            if changed:
                path.write_text(json.dumps(asdict(config), indent=2))
            return config
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)  # PostgreSQL runs as another account when we are root
        ports = {
            "pg_port": int(os.environ.get("SPARKIFY_PG_PORT") or free_port()),
            "endpoint_port": int(os.environ.get("SPARKIFY_ENDPOINT_PORT") or free_port()),
            "s3_port": int(os.environ.get("SPARKIFY_S3_PORT") or free_port()),
            "mail_port": int(os.environ.get("SPARKIFY_MAIL_PORT") or free_port()),
        }
        config = cls(**ports, password=secrets.token_urlsafe(18), airflow_db_password=secrets.token_urlsafe(18))
        path.touch(mode=0o600)
        path.write_text(json.dumps(asdict(config), indent=2))
        return config


class Stack:
    """Lifecycle of the local servers."""

    def __init__(self, directory: Path | None = None):
        self.dir = directory or state_dir()
        self.config = StackConfig.load_or_create(self.dir)
        cfg = self.config
        self.postgres = PostgresServer(
            data_dir=pg_data_dir(self.dir), port=cfg.pg_port, password=cfg.password, user=cfg.user, dbname=cfg.dbname
        )
        self.s3 = S3Server(state_dir=self.dir, port=cfg.s3_port, host=cfg.host)
        self.mail = MailSink(state_dir=self.dir, port=cfg.mail_port, host=cfg.host)
        self.endpoint_pid_file = self.dir / "endpoint.pid"
        self.endpoint_log = self.dir / "endpoint.log"

    # -- the endpoint -------------------------------------------------------------------------
    def endpoint_running(self) -> bool:
        # A generous connect timeout: a busy machine must not make a live endpoint look dead.
        return read_pid(self.endpoint_pid_file) is not None and port_open(
            self.config.host, self.config.endpoint_port, timeout=5)

    def endpoint_spec(self) -> EndpointProcess:
        cfg = self.config
        return EndpointProcess(
            backend_host=cfg.host, backend_port=cfg.pg_port, user=cfg.user, password=cfg.password,
            dbname=cfg.dbname, s3_endpoint_url=self.s3.endpoint_url, host=cfg.host, port=cfg.endpoint_port,
            extra_env=DUMMY_CREDENTIALS,
        )

    def start_endpoint(self) -> None:
        if self.endpoint_running():
            return
        pid = read_pid(self.endpoint_pid_file)
        if pid is not None:
            print(f"Redshift endpoint (pid {pid}) is alive but does not accept connections: restarting it",
                  file=sys.stderr)
        stop_daemon(self.endpoint_pid_file)  # crashed or hung: replace it
        spec = self.endpoint_spec()
        start_daemon(
            "Redshift endpoint",
            spec.command(),
            pid_file=self.endpoint_pid_file,
            log_file=self.endpoint_log,
            ready=lambda: port_open(spec.host, spec.port),
            env=spec.environment(),
        )

    # -- the whole stack ----------------------------------------------------------------------
    def up(self) -> None:
        """Start whatever is not running; harmless when everything is.

        moto keeps objects in memory: when a new S3 server had to be started, the datasets seeded
        into the old one (their files stay on disk) are uploaded again, and that is said.
        """
        self.postgres.start()
        fresh_s3 = self.s3.start()
        self.start_endpoint()
        self.ensure_bucket()
        if fresh_s3:
            self.restore_s3()
        self.mail.start()

    # -- what the local S3 held -------------------------------------------------------------------
    @property
    def seeded_file(self) -> Path:
        return self.dir / "s3-datasets.json"

    def seeded_datasets(self) -> list[dict]:
        """Datasets to restore into a new S3 server, in seeding order: `make demo`'s folder first
        (when it exists), then what `seed` and the local Airflow recorded."""
        try:
            recorded = json.loads(self.seeded_file.read_text())
        except (FileNotFoundError, ValueError):
            recorded = []
        demo = {"src": str(self.dir / "demo-data"), "only": None}
        datasets = [demo] if Path(demo["src"]).is_dir() else []
        return datasets + [entry for entry in recorded if entry != demo and Path(entry["src"]).is_dir()]

    def record_seed(self, src: Path, only: str | None = None) -> None:
        """Remember that `src` (or its folder `only`) was uploaded to this stack's bucket."""
        entry = {"src": str(Path(src).resolve()), "only": only}
        recorded = [item for item in self.seeded_datasets() if item != entry]
        self.seeded_file.write_text(json.dumps([*recorded, entry], indent=2))

    def restore_s3(self) -> int:
        """Upload the recorded datasets again; returns the number of files."""
        from devstack.seed import seed_bucket

        total = 0
        for entry in self.seeded_datasets():
            count = seed_bucket(Path(entry["src"]), self.config.bucket, endpoint_url=self.s3.endpoint_url,
                                progress=False, only=entry["only"])
            where = entry["src"] + (f" ({entry['only']}/ only)" if entry["only"] else "")
            print(f"local S3 started empty: restored {count} files from {where}", file=sys.stderr)
            total += count
        return total

    def bucket_is_empty(self) -> bool:
        """True when the stack's bucket holds no object (one cheap listing)."""
        response = self.s3_client().list_objects_v2(Bucket=self.config.bucket, MaxKeys=1)
        return response.get("KeyCount", 0) == 0

    def down(self) -> list[str]:
        """Stop what `up` started; returns the names of what was stopped."""
        stopped = []
        if self.mail.stop():
            stopped.append("mail")
        if stop_daemon(self.endpoint_pid_file):
            stopped.append("endpoint")
        if self.s3.stop():
            stopped.append("s3")
        if self.postgres.stop():
            stopped.append("postgres")
        return stopped

    def status(self) -> dict[str, dict]:
        cfg = self.config
        return {
            "postgres": {"running": self.postgres.running(), "listen": f"{cfg.host}:{cfg.pg_port}",
                         "pid": self.postgres.pid(), "data": str(self.postgres.data_dir)},
            "endpoint": {"running": self.endpoint_running(), "listen": f"{cfg.host}:{cfg.endpoint_port}",
                         "pid": read_pid(self.endpoint_pid_file), "log": str(self.endpoint_log)},
            "s3": {"running": self.s3.running(), "listen": self.s3.endpoint_url,
                   "pid": read_pid(self.s3.pid_file), "log": str(self.s3.log_file)},
            "mail": {"running": self.mail.running(), "listen": f"smtp://{cfg.host}:{cfg.mail_port}",
                     "pid": read_pid(self.mail.pid_file), "log": f"messages in {self.mail.folder}"},
        }

    def s3_client(self):
        """A boto3 S3 client for the local S3 server (dummy credentials)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.s3.endpoint_url, **_boto_credentials())

    def ensure_bucket(self) -> None:
        s3 = self.s3_client()
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        if self.config.bucket not in existing:
            s3.create_bucket(Bucket=self.config.bucket)

    # -- how clients reach it -------------------------------------------------------------------
    def airflow_env(self) -> dict[str, str]:
        """The connections and variables that point the unchanged DAG at this stack."""
        cfg = self.config
        redshift = self.endpoint_spec().airflow_connection("redshift")
        # The keys go in the extra, not login/password: Airflow's masker hides extra values whose
        # names look sensitive ("access_key", "secret"), so neither the key id nor the secret shows in
        # task logs (the COPY's CREDENTIALS clause), while a login would be printed in clear.
        aws = {
            "conn_type": "aws",
            "extra": {
                "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                "endpoint_url": self.s3.endpoint_url, "region_name": DUMMY_CREDENTIALS["AWS_DEFAULT_REGION"],
            },
        }
        return {
            "AIRFLOW_CONN_REDSHIFT_DEFAULT": json.dumps(redshift),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AIRFLOW_VAR_SPARKIFY_S3_BUCKET": cfg.bucket,
            "AIRFLOW_VAR_SPARKIFY_LOG_PREFIX": "log_data",
            "AIRFLOW_VAR_SPARKIFY_SONG_PREFIX": "song_data",
            "AIRFLOW_VAR_SPARKIFY_LOG_JSONPATH": "log_json_path.json",
        }

    def alerts_env(self) -> dict[str, str]:
        """The notification connection (``sparkify_alerts``) pointing at the SMTP sink. Kept out of
        :meth:`airflow_env`: the local Airflow keeps it in its metastore, where the UI can edit or delete it."""
        return {"AIRFLOW_CONN_SPARKIFY_ALERTS": json.dumps(self.mail.airflow_connection())}

    def psql_command(self) -> str:
        cfg = self.config
        return f"PGPASSWORD={shlex.quote(cfg.password)} psql -h {cfg.host} -p {cfg.endpoint_port} -U {cfg.user} -d {cfg.dbname}"

    def export_lines(self) -> list[str]:
        exported = {**self.airflow_env(), **self.alerts_env()}
        lines = [f"export {key}={shlex.quote(value)}" for key, value in exported.items()]
        return [*lines, f"# notifications (sparkify_alerts) are filed in {self.mail.folder}",
                f"# psql through the Redshift endpoint:\n# {self.psql_command()}"]


def pg_data_dir(directory: Path) -> Path:
    """`<state dir>/pgdata`, unless PostgreSQL's unprivileged account cannot reach it (a checkout under
    root's 0700 home, say): then a directory of its own under the system's temp dir."""
    preferred = directory / "pgdata"
    if untraversable_parent(preferred) is None:
        return preferred
    digest = hashlib.sha1(str(directory).encode()).hexdigest()[:10]
    fallback = Path(tempfile.gettempdir()) / f"sparkify-pg-{digest}"
    fallback.mkdir(mode=0o755, exist_ok=True)
    return fallback / "pgdata"


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": DUMMY_CREDENTIALS["AWS_DEFAULT_REGION"],
    }

