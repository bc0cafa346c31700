"""Command line of the local stack: up, down, status, env, generate, seed, run, demo, airflow."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from devstack.processes import StartupError
from devstack.stack import Stack

console = Console(stderr=True)


def cmd_up(args: argparse.Namespace) -> int:
    stack = Stack()
    stack.up()
    show_status(stack)
    console.print("Use it from another shell: [bold]eval \"$(python -m devstack env)\"[/]")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from devstack.airflow_workflow import stop_airflow

    stack = Stack()
    stopped = ["airflow"] if stop_airflow(stack) else []
    stopped += stack.down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    stack = Stack()
    show_status(stack)
    return 0 if all(item["running"] for item in stack.status().values()) else 3


def cmd_env(args: argparse.Namespace) -> int:
    stack = Stack()
    if not all(item["running"] for item in stack.status().values()):
        console.print("[yellow]warning:[/] the stack is not (fully) running: `python -m devstack up`")
    print("\n".join(stack.export_lines()))
    return 0


def show_status(stack: Stack) -> None:
    from devstack.local_airflow import LocalAirflow

    table = Table(title="Sparkify local stack")
    for column in ("service", "state", "listens on", "pid", "details"):
        table.add_column(column)
    for name, item in stack.status().items():
        state = "[green]running[/]" if item["running"] else "[red]stopped[/]"
        details = item.get("data") or item.get("log") or ""
        table.add_row(name, state, item["listen"], str(item["pid"] or "-"), details)
    airflow = LocalAirflow(stack)
    if airflow.running():  # only while `make airflow` runs: it is not part of `up`
        unhealthy = airflow.unhealthy(airflow.health())
        state = "[green]healthy[/]" if not unhealthy else f"[yellow]unhealthy: {', '.join(unhealthy)}[/]"
        pids = " ".join(f"{name}={pid}" for name, pid in airflow.pids().items() if pid)
        table.add_row("airflow", state, airflow.base_url, pids, str(airflow.run_dir))
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start PostgreSQL, the Redshift endpoint and local S3").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything `up` started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show what is running").set_defaults(func=cmd_status)
    sub.add_parser("env", help="print export lines for the running stack").set_defaults(func=cmd_env)
    from devstack.airflow_workflow import register as register_airflow
    from devstack.datagen.cli import register as register_data
    from devstack.demo import register as register_demo
    from devstack.run_window import register as register_run

    register_data(sub)
    register_run(sub)
    register_demo(sub)
    register_airflow(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StartupError as error:
        console.print(f"[red]error:[/] {error}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
