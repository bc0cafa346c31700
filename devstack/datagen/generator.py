"""`generate()`: catalog, users, then the events streamed day by day to the bucket layout."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from devstack.datagen.catalog import build_catalog
from devstack.datagen.config import GenConfig
from devstack.datagen.events import Simulator
from devstack.datagen.truth import TRUTH_DAYS_DIR, TRUTH_FILE, TruthBuilder
from devstack.datagen.users import build_users
from devstack.datagen.writer import LogLineFormatter, write_log_json_path, write_song_files

# What generate() owns inside out_dir; removed first so a smaller rerun leaves no stale day files.
_OWNED = ("song_data", "log_data", "log_json_path.json", TRUTH_FILE, TRUTH_DAYS_DIR)


def generate(out_dir: Path, config: GenConfig, *, progress: bool = True) -> Path:
    """Write a dataset for `config` under `out_dir` and return `out_dir`.

    Memory holds the catalog, the users and one day of events (plus the sessions spilling into
    the next day), so the event count is bounded by disk, not RAM.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in _OWNED:
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    started = time.perf_counter()
    catalog = build_catalog(config)
    users = build_users(config)
    write_song_files(out_dir, catalog.songs)
    write_log_json_path(out_dir)

    formatter = LogLineFormatter(users, catalog.played_in_catalog + catalog.outside)
    truth = TruthBuilder(config, [user.user_id for user in users], len(catalog.songs))
    simulator = Simulator(config, catalog, users)
    with Progress(
        TextColumn("[bold]generate[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        disable=not progress,
    ) as bar:
        task = bar.add_task("days", total=config.days, events=0)
        for day in simulator.days():
            formatter.write_day(out_dir, day.day_start_ms, day.events)
            truth.add_day(out_dir, day.day_start_ms, day.events, day.sessions)
            bar.update(task, advance=1, events=truth.totals["events"])
    truth.write(out_dir)
    if progress:
        elapsed = time.perf_counter() - started
        events = truth.totals["events"]
        print(
            f"generated {events:,} events, {len(catalog.songs):,} songs, {len(users):,} users in {out_dir} "
            f"({elapsed:.1f} s, {events / max(elapsed, 1e-9):,.0f} events/s)"
        )
    return out_dir
