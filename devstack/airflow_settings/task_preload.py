"""Import the task processes' heavy modules once, in the scheduler, before the LocalExecutor forks.

With the LocalExecutor on Linux (Airflow 3.3, Python 3.11: the ``fork`` start method) the
scheduler forks its executor workers when the executor starts, and each worker forks (``os.fork``
in the task SDK's supervisor, no ``exec``) a new process for every task. A task process therefore
starts with every module the scheduler had imported before the executor started; what it lacks, it
imports again: the DAG file's imports (the amazon provider's ``s3_to_redshift`` alone is ~1 s on
the development machine, its hooks, boto3, redshift_connector), common.sql, psycopg.
That import is paid by every task of every run, and a cached hourly run is almost all such
overhead.

`preload()` imports them in the scheduler: the modules named at the top of the DAG files and of
our plugins (read with `ast`, so a new import is covered without a list to maintain) plus the
ones the tasks import only when they execute (`EXECUTION_MODULES`), but not our own plugin
modules: those stay fresh in every task, so an edit needs no restart. The local Airflow's
`airflow_local_settings` calls it when the process is the scheduler, unless
``SPARKIFY_PRELOAD_TASK_IMPORTS=0``. A module that fails to import is skipped and named in a warning:
the task then imports it, and fails, as it would have without the preload.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ENV_SWITCH = "SPARKIFY_PRELOAD_TASK_IMPORTS"
# Imported inside the operators' and hooks' execute paths, not at the top of the DAG files.
EXECUTION_MODULES = (
    "airflow.sdk.execution_time.task_runner",
    "airflow.providers.amazon.aws.hooks.s3",
    "airflow.providers.amazon.aws.hooks.redshift_sql",
    "airflow.providers.common.sql.hooks.sql",
    "redshift_connector",
    "psycopg",
    "boto3",
)

def enabled(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> bool:
    """True in the scheduler's process (`airflow scheduler ...`) unless the switch is "0"."""
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    return argv[1:2] == ["scheduler"] and environ.get(ENV_SWITCH, "1") != "0"


def top_level_imports(folder: Path) -> list[str]:
    """The absolute module names imported at module level by the *.py files under `folder`."""
    names: list[str] = []
    for path in sorted(Path(folder).rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except (OSError, SyntaxError, ValueError):
            continue  # the DAG processor reports a broken file; nothing to preload from it
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
    return [name for name in dict.fromkeys(names) if name != "__future__"]


def own_packages(*folders: Path) -> set[str]:
    """Top-level module names defined in `folders` (our plugins, the DAG files)."""
    return {path.stem if path.suffix == ".py" else path.name
            for folder in folders if Path(folder).is_dir() for path in Path(folder).iterdir()
            if path.suffix == ".py" or (path / "__init__.py").exists()}


def modules_to_preload(dags_folder: Path, plugins_folder: Path) -> list[str]:
    """What `preload` imports, in order: the DAG files' imports, the plugins', then EXECUTION_MODULES;
    never a module of the plugins or DAG folders themselves, so an edit to them reaches the next task
    without restarting the scheduler (they cost milliseconds; the providers cost the seconds)."""
    own = own_packages(dags_folder, plugins_folder)
    names = [*top_level_imports(dags_folder), *top_level_imports(plugins_folder), *EXECUTION_MODULES]
    return [name for name in dict.fromkeys(names) if name.split(".")[0] not in own]


def preload(modules: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """Import `modules`; returns (imported, {module: error}) and never raises for a module's failure."""
    imported, failed = [], {}
    for name in modules:
        try:
            importlib.import_module(name)
            imported.append(name)
        except Exception as error:  # noqa: BLE001 - a preload must never stop the scheduler
            failed[name] = f"{type(error).__name__}: {error}"
    return imported, failed


def preload_for_tasks(dags_folder: str | os.PathLike, plugins_folder: str | os.PathLike) -> None:
    """`preload` the task processes' modules; one line on stderr (the component log), one per failure."""
    began = time.monotonic()
    imported, failed = preload(modules_to_preload(Path(dags_folder), Path(plugins_folder)))
    # Printed, not logged: Airflow configures logging only after its local settings are imported.
    print(f"preloaded {len(imported)} modules for the task processes in {time.monotonic() - began:.1f} s "
          f"({ENV_SWITCH}=0 turns this off)", file=sys.stderr)
    for name, error in failed.items():
        print(f"warning: could not preload {name} for the task processes: {error}", file=sys.stderr)
