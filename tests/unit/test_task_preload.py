"""The scheduler's preload of the task processes' imports (devstack/airflow_settings/task_preload.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from devstack.airflow_settings.task_preload import (
    ENV_SWITCH,
    EXECUTION_MODULES,
    enabled,
    modules_to_preload,
    preload,
)

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = "airflow.providers.amazon.aws.transfers.s3_to_redshift"


def test_only_the_scheduler_preloads_and_the_switch_turns_it_off():
    assert enabled(["airflow", "scheduler"], {})
    assert enabled(["airflow", "scheduler", "--num-runs", "1"], {ENV_SWITCH: "1"})
    assert not enabled(["airflow", "scheduler"], {ENV_SWITCH: "0"})
    for component in ("api-server", "dag-processor", "triggerer", "backfill", "tasks"):
        assert not enabled(["airflow", component], {})
    assert not enabled(["airflow"], {})


def test_modules_are_the_top_level_imports_of_dags_and_plugins_but_never_our_own(tmp_path):
    dags, plugins = tmp_path / "dags", tmp_path / "plugins"
    (plugins / "ours").mkdir(parents=True)
    dags.mkdir()
    (dags / "etl.py").write_text(textwrap.dedent("""
        from __future__ import annotations
        import json, pendulum
        from airflow.providers.amazon.aws.transfers.s3_to_redshift import S3ToRedshiftOperator
        from ours.load import LoadFactOperator
        import helper_module
        if False:
            import only_when_type_checking
        def f():
            import only_inside_a_function
    """))
    (dags / "helper_module.py").write_text("import csv\n")
    (dags / "broken.py").write_text("def (:\n")
    (plugins / "ours" / "__init__.py").write_text("")
    (plugins / "ours" / "load.py").write_text("from . import sibling\nfrom airflow.providers.common.sql.hooks.sql import DbApiHook\n")
    names = modules_to_preload(dags, plugins)
    assert names == ["json", "pendulum", PROVIDER, "csv", "airflow.providers.common.sql.hooks.sql",
                     *[name for name in EXECUTION_MODULES if name != "airflow.providers.common.sql.hooks.sql"]]


def test_the_projects_own_dag_imports_are_covered():
    names = modules_to_preload(ROOT / "dags", ROOT / "plugins")
    assert PROVIDER in names and "airflow.providers.common.sql.operators.sql" in names
    assert not [name for name in names if name.split(".")[0] in ("sparkify", "sparkify_etl")]


def test_a_module_that_fails_to_import_is_reported_not_raised():
    imported, failed = preload(["json", "no_such_module_for_the_preload", "csv"])
    assert imported == ["json", "csv"]
    assert failed == {"no_such_module_for_the_preload": "ModuleNotFoundError: No module named "
                                                          "'no_such_module_for_the_preload'"}


def _airflow_modules_after_settings(tmp_path, *, argv1: str, switch: str | None) -> str:
    """Import airflow as component `argv1` with the local Airflow's settings folder on the path; return
    what the child says about the provider module and its stderr."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "devstack" / "airflow_settings"), str(ROOT)]),
    })
    if switch is not None:
        env[ENV_SWITCH] = switch
    code = (f"import sys; sys.argv = ['airflow', {argv1!r}]; import airflow; "
            f"print({PROVIDER!r} in sys.modules, 'sparkify.load' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1] + "\n" + result.stderr


@pytest.mark.parametrize(("argv1", "switch", "expected"), [
    ("scheduler", None, "True False"),
    ("scheduler", "0", "False False"),
])
def test_airflows_own_start_runs_the_preload_in_the_scheduler_only(tmp_path, argv1, switch, expected):
    """Through Airflow's real settings initialisation: the local settings module is what runs it."""
    stdout, stderr = _airflow_modules_after_settings(tmp_path, argv1=argv1, switch=switch).split("\n", 1)
    assert stdout == expected
    assert ("preloaded " in stderr) == (expected == "True False")
    assert "could not preload" not in stderr

