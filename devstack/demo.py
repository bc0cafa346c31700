"""`python -m devstack demo`: the whole pipeline on this machine, then a short report.

Phases: stack up → generate a dataset (skipped when the same one exists) → seed local S3 →
run the real DAG for a day of hourly runs → report. Each phase's wall time is printed at the
end (bench/demo_walltime.py reads that line).
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console

from devstack.report import connect, print_report, table_registry
from devstack.run_window import print_runs, run_window
from devstack.stack import ROOT, Stack

console = Console(stderr=True)

# Small enough for a laptop minute, big enough to look like a real day of Sparkify. The first run stages
# the catalog (one S3 object per song, ~3 ms each on moto) and the day file; the other runs of the day
# find both cached (skipped), so the catalog's size costs once per demo, not once per hour.
DEMO_DATASET = {"seed": 42, "days": 2, "events_per_day": 4000, "users": 120, "songs": 1000, "artists": 500}
DEMO_START = date(2018, 11, 1)


@contextmanager
def phase(name: str, timings: dict[str, float]):
    console.rule(f"[bold]{name}")
    began = time.monotonic()
    yield
    timings[name] = time.monotonic() - began


def generate_once(stack: Stack, out_dir: Path, settings: dict) -> Path:
    """Generate the demo dataset unless the same settings already produced it.

    A new dataset means new sessions: plays loaded from the old one would collide with its
    (session_id, item_in_session) keys, so the warehouse tables are dropped as well.
    """
    from devstack.datagen import GenConfig, generate

    marker = out_dir / ".demo-settings.json"
    wanted = json.dumps(settings, sort_keys=True)
    if marker.exists() and marker.read_text() == wanted:
        console.print(f"dataset already generated in {out_dir}")
        return out_dir
    generate(out_dir, GenConfig(start_date=DEMO_START, **settings), progress=True)
    with connect(stack) as conn:
        conn.execute(table_registry().drop_statement(ROOT / "sql"))
    console.print("new dataset: warehouse tables dropped (the DAG's create_tables rebuilds them)")
    marker.write_text(wanted)
    return out_dir


def cmd_demo(args: argparse.Namespace) -> int:
    from devstack.seed import seed_bucket

    timings: dict[str, float] = {}
    stack = Stack()
    with phase("stack up", timings):
        stack.up()
        for name, item in stack.status().items():
            console.print(f"{name:9} {item['listen']}")
    data_dir = stack.dir / "demo-data"
    with phase("generate", timings):
        generate_once(stack, data_dir, DEMO_DATASET)
    with phase("seed", timings):
        seed_bucket(data_dir, stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=True)
    with phase("dag runs", timings):
        start = datetime(DEMO_START.year, DEMO_START.month, DEMO_START.day, tzinfo=UTC)
        records = run_window(stack, start, args.hours)
        print_runs(records)
    with phase("report", timings):
        print_report(stack, records, data_dir)
    console.print("phases: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items())
                  + f", total {sum(timings.values()):.1f}s")
    console.print("The stack keeps running: `make airflow` for the UI, `make down` to stop it.")
    return 0 if all(record["state"] == "success" for record in records) else 1


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="stack up, generate, seed, run a day of hourly runs, report")
    demo.add_argument("--hours", type=int, default=24, help="hourly runs from 2018-11-01T00 (default 24)")
    demo.set_defaults(func=cmd_demo)
