"""The local S3 server: moto's standalone server in its own process.

An in-process mock is not enough: the Redshift endpoint and every Airflow task process must see
the same buckets. moto serves every AWS service on one port; we use S3 (and, for `infra`, IAM,
EC2 and Redshift).
"""

from __future__ import annotations

import sys
import time
import urllib.error
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


def healthy(endpoint_url: str, *, timeout: float = 5.0, attempts: int = 3) -> bool:
    """True when the server answers a bucket listing (`GET /`, a few hundred bytes) on `endpoint_url`.

    Cheap and patient on purpose: a false "dead" makes callers replace a server that holds every
    seeded object in memory. A busy server gets `timeout` seconds per try and `attempts` tries.
    """
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(endpoint_url + "/", timeout=timeout) as response:
                return response.status == 200
        except urllib.error.HTTPError as error:
            return error.code < 500  # it answered: alive (a 403 from a server that checks signatures)
        except OSError:
            if attempt + 1 < attempts:
                time.sleep(0.5 * (attempt + 1))
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

    def start(self) -> bool:
        """Start moto server unless ours is already running; True when a new (empty) server started.

        A live process that does not answer is replaced only after the patient probe above, and
        with a message: its in-memory objects are lost with it.
        """
        pid = read_pid(self.pid_file)
        if pid is not None:
            if healthy(self.endpoint_url):
                return False
            print(f"local S3 server (pid {pid}) is alive but has not answered {self.endpoint_url} for ~15 s: "
                  f"restarting it (its objects are lost; see {self.log_file})", file=sys.stderr)
        stop_daemon(self.pid_file)  # a crashed or hung server from an earlier `up`
        start_daemon(
            "local S3 server (moto)",
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            pid_file=self.pid_file,
            log_file=self.log_file,
            ready=lambda: healthy(self.endpoint_url, timeout=1, attempts=1),
        )
        return True

    def stop(self) -> bool:
        return stop_daemon(self.pid_file)
