"""The demo's closing report, read from the warehouse through the Redshift endpoint."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import psycopg
from rich.console import Console
from rich.table import Table

from devstack.stack import ROOT, Stack

console = Console()
DAY_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'staging_events_%' ORDER BY 1"
ANALYTICS = ROOT / "sql" / "analytics"
REGISTRY = ROOT / "plugins" / "sparkify" / "tables.py"


def table_registry() -> ModuleType:
    """The project's table registry, plugins/sparkify/tables.py (standard library only), loaded from the
    checkout: devstack runs without plugins/ on its import path."""
    name = "sparkify_table_registry"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REGISTRY)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before exec: dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def warehouse_tables() -> tuple[tuple[str, str], ...]:
    """(label, SQL name) of the tables the report counts: the staged catalog and the star schema."""
    registry = table_registry()
    return tuple((t.name, t.sql_name) for t in registry.TABLES if t.kind in ("fact", "dimension")
                 or (t.kind == "staging" and not t.per_day))


def connect(stack: Stack) -> psycopg.Connection:
    cfg = stack.config
    return psycopg.connect(host=cfg.host, port=cfg.endpoint_port, user=cfg.user, password=cfg.password,
                           dbname=cfg.dbname, autocommit=True)


def query_table(conn: psycopg.Connection, title: str, sql: str) -> Table:
    cursor = conn.execute(sql)
    table = Table(title=title)
    for column in cursor.description:
        table.add_column(column.name)
    for row in cursor.fetchall():
        table.add_row(*("" if value is None else str(value) for value in row))
    return table


def print_report(stack: Stack, records: list[dict], data_dir: Path) -> None:
    with connect(stack) as conn:
        counts = Table(title="Rows per table")
        counts.add_column("table")
        counts.add_column("rows", justify="right")
        day_tables = tuple(row[0] for row in conn.execute(DAY_TABLES).fetchall())
        for name, sql_name in tuple((day, day) for day in day_tables) + warehouse_tables():
            counts.add_row(name, f"{conn.execute(f'SELECT COUNT(*) FROM {sql_name}').fetchone()[0]:,}")
        console.print(counts)

        checks = Table(title="Quality checks (last run)")
        for column in ("check", "observed", "result"):  # only a passing gate returns its results
            checks.add_column(column)
        last_checks = next((r.get("checks") for r in reversed(records) if r.get("checks")), [])
        for check in last_checks:
            label, _, where = check["check"].partition(" where ")
            checks.add_row(label + (" (the run's hour)" if where else ""), str(check["observed"]), "[green]passed")
        passed_runs = sum(r["state"] == "success" for r in records)
        checks.caption = f"quality gate passed in {passed_runs} of {len(records)} hourly runs"
        console.print(checks)

        console.print(query_table(conn, "Top songs", (ANALYTICS / "top_songs.sql").read_text()))
        console.print(query_table(conn, "Plays per hour", (ANALYTICS / "plays_per_hour.sql").read_text()))
