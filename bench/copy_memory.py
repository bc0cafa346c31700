"""Benchmark: the relay's memory while one large JSON object is COPYed through the local endpoint.

One generated object of ~200 MB (Sparkify events, one JSON object per line) on a moto server is
loaded with the DAG's statement (COPY ... FORMAT AS JSON '<jsonpaths>' TIMEFORMAT 'epochmillisecs')
through the real endpoint into PostgreSQL. The relay process's peak RSS during the COPY (VmHWM after
resetting it through /proc/PID/clear_refs, and psutil samples every 10 ms) is compared with its RSS
just before; what it still holds afterwards is reported too.

Usage: python bench/copy_memory.py [MB]   (or COPY_MEMORY_BENCH_MB; default 200)
The last line printed is peak-RSS-increase / object-size (goal <= 0.5; the loader's budget is
COPY_MEMORY_BYTES, redshift_endpoint/docs/reference.md).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import boto3  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from endpoint_copy import DDL, KEYS, generate  # noqa: E402

from devstack.postgres import PostgresServer  # noqa: E402
from devstack.processes import free_port  # noqa: E402
from devstack.s3server import DUMMY_CREDENTIALS, S3Server  # noqa: E402
from redshift_endpoint.limits import COPY_MEMORY_BYTES  # noqa: E402
from redshift_endpoint.process import EndpointProcess  # noqa: E402

MB = 1 << 20


def big_object(size: int) -> tuple[bytes, int]:
    """About ``size`` bytes of JSON lines: 2,000 generated events, repeated with fresh sessionIds."""
    base = generate(2000)
    lines = []
    total = rows = 0
    while total < size:
        for e in base:
            e = dict(e, sessionId=rows)
            line = orjson.dumps(e)
            lines.append(line)
            total += len(line) + 1
            rows += 1
            if total >= size:
                break
    return b"\n".join(lines) + b"\n", rows


def status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(text.split(field + ":")[1].split()[0]) * 1024


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+); False where that is not possible."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """The highest RSS seen every 10 ms (a lower bound of the true peak; VmHWM is exact)."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("COPY_MEMORY_BENCH_MB", "200"))
    scratch = Path(tempfile.mkdtemp(prefix="sparkify-bench-"))
    scratch.chmod(0o755)
    os.environ.update(DUMMY_CREDENTIALS)
    pg = PostgresServer(data_dir=scratch / "pg", port=free_port(), password=secrets.token_urlsafe(12))
    s3 = S3Server(state_dir=scratch / "s3", port=free_port())
    (scratch / "s3").mkdir()
    ep = None
    try:
        pg.start()
        s3.start()
        ep = EndpointProcess(backend_host=pg.host, backend_port=pg.port, user=pg.user, password=pg.password,
                             dbname=pg.dbname, s3_endpoint_url=s3.endpoint_url, log_file=scratch / "endpoint.log")
        ep.start()
        pid = ep.proc.pid

        t0 = time.perf_counter()
        body, n = big_object(size_mb * MB)
        client = boto3.client("s3", endpoint_url=s3.endpoint_url)
        client.create_bucket(Bucket="bench")
        client.put_object(Bucket="bench", Key="big/events.json", Body=body)
        client.put_object(Bucket="bench", Key="small/events.json", Body=b"\n".join(big_object(MB)[0].split(b"\n")[:10]))
        client.put_object(Bucket="bench", Key="paths.json",
                          Body=orjson.dumps({"jsonpaths": [f"$['{k}']" for k in KEYS]}))
        size = len(body)
        del body
        print(f"setup: one object of {size / MB:.0f} MB ({n:,} events) in {time.perf_counter() - t0:.1f}s", flush=True)

        copy = ("COPY staging_events FROM 's3://bench/{}/' credentials "
                f"'aws_access_key_id={DUMMY_CREDENTIALS['AWS_ACCESS_KEY_ID']};aws_secret_access_key="
                f"{DUMMY_CREDENTIALS['AWS_SECRET_ACCESS_KEY']}' region 'us-east-1' "
                "FORMAT AS JSON 's3://bench/paths.json' TIMEFORMAT 'epochmillisecs'")
        with psycopg.connect(ep.dsn(), autocommit=True) as rs:
            rs.execute(DDL)
            # A small COPY first: the relay's S3 client (boto3 loads the S3 service model, ~30 MB
            # kept for the process's life) and the session's own costs are paid before measuring.
            rs.execute(copy.format("small"))
            rs.execute("TRUNCATE staging_events")
            time.sleep(0.5)
            before = psutil.Process(pid).memory_info().rss
            exact = reset_peak(pid)
            sampler = Sampler(pid)
            sampler.start()
            t = time.perf_counter()
            rows = rs.execute(copy.format("big")).rowcount
            seconds = time.perf_counter() - t
            sampler.done.set()
            sampler.join()
            peak = max(sampler.peak, status_kb(pid, "VmHWM") if exact else 0)
            time.sleep(1.0)
            after = psutil.Process(pid).memory_info().rss
            assert rows == n, (rows, n)
            assert rs.execute("SELECT count(*) FROM staging_events").fetchone()[0] == n

        grew, held = peak - before, after - before
        print(f"COPY of {size / MB:.0f} MB, {n:,} rows: {seconds:.1f}s ({n / seconds:,.0f} rows/s)")
        print(f"relay RSS: {before / MB:.0f} MB before, peak {peak / MB:.0f} MB "
              f"({'VmHWM' if exact else 'sampled'}), {after / MB:.0f} MB one second after")
        print(f"peak increase {grew / MB:.0f} MB (budget COPY_MEMORY_BYTES = {COPY_MEMORY_BYTES / MB:.0f} MB); "
              f"held afterwards {held / MB:+.0f} MB")
        print(f"peak RSS increase / object size: {grew / size:.2f}")
    finally:
        if ep is not None:
            ep.stop()
        s3.stop()
        pg.stop(mode="immediate")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
