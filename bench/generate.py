"""Benchmark: sample-data generation (events/s) and seeding into a moto server (files/s).

    .venv/bin/python bench/generate.py [--events 10000000] [--seed-files 2000]

Generation streams day by day (30 days, events/day = events / 30, users/songs scaled with it).
Seeding uploads a generated catalog of `--seed-files` song files to a fresh moto server
process. Baselines, measured in the same run: re-serialising the generated first day with the
standard json module (the bare cost of writing those events), and uploading the same song files
with sequential PUTs. The last line prints both figures and their ratios to the baselines.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.datagen import GenConfig, generate  # noqa: E402
from devstack.processes import free_port  # noqa: E402
from devstack.s3server import DUMMY_CREDENTIALS, S3Server  # noqa: E402
from devstack.seed import seed_bucket  # noqa: E402


def bench_generate(events: int, out: Path) -> tuple[int, float]:
    per_day = max(1, events // 30)
    config = GenConfig(
        days=30, events_per_day=per_day, users=max(100, per_day // 30), songs=max(500, per_day // 5),
        artists=max(300, per_day // 12),
    )
    started = time.perf_counter()
    generate(out, config, progress=sys.stderr.isatty())
    elapsed = time.perf_counter() - started
    produced = sum(line_count(p) for p in (out / "log_data").rglob("*.json"))
    return produced, elapsed


def bench_json_baseline(out: Path) -> float:
    """Events/s of json.dumps over the first day's events, written to a file (no simulation)."""
    import json

    first_day = min((out / "log_data").rglob("*.json"))
    events = [json.loads(line) for line in first_day.read_text().splitlines()]
    started = time.perf_counter()
    with open(out / "baseline.json", "w") as sink:
        sink.write("\n".join(json.dumps(event, separators=(",", ":")) for event in events))
    return len(events) / (time.perf_counter() - started)


def line_count(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + 1 if data else 0


def bench_seed(files: int, scratch: Path) -> tuple[int, float, float]:
    data = generate(scratch / "seed-data", GenConfig(days=1, events_per_day=100, songs=files), progress=False)
    shutil.rmtree(data / "log_data")  # song files only: a known count of small objects
    os.environ.update(DUMMY_CREDENTIALS)
    server = S3Server(state_dir=scratch, port=free_port())
    server.start()
    try:
        started = time.perf_counter()
        count = seed_bucket(data, "bench-seed", endpoint_url=server.endpoint_url, progress=False)
        parallel = count / (time.perf_counter() - started)
        s3 = boto3.client("s3", endpoint_url=server.endpoint_url)
        files = [p for p in data.rglob("*.json") if p.is_file()]
        started = time.perf_counter()
        for path in files:
            s3.put_object(Bucket="bench-seed", Key=f"sequential/{path.name}", Body=path.read_bytes())
        return count, parallel, len(files) / (time.perf_counter() - started)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed-files", type=int, default=2000)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="sparkify-bench-gen-"))
    try:
        produced, gen_s = bench_generate(args.events, scratch / "data")
        json_rate = bench_json_baseline(scratch / "data")
        size = sum(p.stat().st_size for p in (scratch / "data").rglob("*") if p.is_file())
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"generate: {produced:,} events, {size / 1e9:.2f} GB in {gen_s:.1f} s, peak RSS {rss_mb:,.0f} MB")
        shutil.rmtree(scratch / "data")
        seeded, seed_rate, sequential_rate = bench_seed(args.seed_files, scratch)
        print(f"seed: {seeded:,} files at {seed_rate:,.0f} files/s against a moto server "
              f"(sequential PUTs: {sequential_rate:,.0f} files/s)")
        gen_rate = produced / gen_s
        print(f"generate {gen_rate:,.0f} events/s = {gen_rate / json_rate:.2f}x stdlib json re-serialisation "
              f"({json_rate:,.0f}/s); seed {seed_rate:,.0f} files/s = {seed_rate / sequential_rate:.2f}x sequential PUTs")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
