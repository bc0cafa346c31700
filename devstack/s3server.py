"""The local S3 server: moto's standalone server in its own process.

An in-process mock is not enough: the Redshift endpoint and every Airflow task process must see
the same buckets. moto serves every AWS service on one port; we use S3 (and, for `infra`, IAM,
EC2 and Redshift).
"""

from __future__ import annotations

import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devstack.processes import read_pid, start_daemon, stop_daemon

# Documented dummies: moto accepts any credentials.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sparkify-local-key",
    "AWS_SECRET_ACCESS_KEY": "sparkify-local-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def healthy(endpoint_url: str) -> bool:
    """True when moto answers its own API on `endpoint_url`."""
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


@dataclass
class S3Server:
    """moto server bound to host:port with its pid file and log under `state_dir`."""

    state_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "s3.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "s3.log"

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None and healthy(self.endpoint_url)

    def start(self) -> None:
        """Start moto server unless ours is already running and healthy."""
        if self.running():
            return
        stop_daemon(self.pid_file)  # a crashed or hung server from an earlier `up`
        start_daemon(
            "local S3 server (moto)",
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            pid_file=self.pid_file,
            log_file=self.log_file,
            ready=lambda: healthy(self.endpoint_url),
        )

    def stop(self) -> bool:
        return stop_daemon(self.pid_file)
