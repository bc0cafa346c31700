"""What importing dags/sparkify_etl.py costs on top of importing airflow.sdk.

Each sample is a fresh Python process (nothing cached in ``sys.modules``) that times, with
``perf_counter`` inside the process, either ``import airflow.sdk`` (the baseline) or the execution of the
DAG file (which imports airflow.sdk itself, then the providers, our plugins and builds the DAG). Runs
alternate between the two so drifting machine load hits both alike. The figure is
``median(DAG file) - median(airflow.sdk)``; the breakdown shows how much of it is the provider modules
the DAG needs (``S3ToRedshiftOperator`` pulls in boto3, redshift_connector and SQLAlchemy) versus our own
code, and what one parse costs in Airflow's dag processor, which pre-imports the ``airflow.*`` modules a
DAG file names before it forks the parsing process (``[dag_processor] parsing_pre_import_modules``).

    .venv/bin/python bench/dag_parse.py [--runs N] [--dag-file PATH]

The last line prints the figure in ms and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = 50.0

BASELINE = "import airflow.sdk"
PROVIDERS = (
    "import airflow.sdk\n"
    "import airflow.providers.amazon.aws.transfers.s3_to_redshift\n"
    "import airflow.providers.common.sql.operators.sql\n"
    "import airflow.providers.standard.operators.empty\n"
)
DAG_FILE = "import runpy\nrunpy.run_path({path!r}, run_name='dag_parse_bench')\n"
# How the dag processor parses: the airflow.* modules named in the file are imported before the clock
# starts (parsing_pre_import_modules, default True), so only the rest is paid per parse.
PREIMPORTED = """
import importlib
from airflow.utils.file import iter_airflow_imports
for _module in iter_airflow_imports({path!r}):
    importlib.import_module(_module)
t0 = time.perf_counter()
import runpy
runpy.run_path({path!r}, run_name='dag_parse_bench')
"""

CHILD = """
import time
t0 = time.perf_counter()
{body}
print(f"{{(time.perf_counter() - t0) * 1000:.3f}}")
"""


def sample(body: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per variant (default 7)")
    parser.add_argument("--dag-file", default=str(ROOT / "dags" / "sparkify_etl.py"))
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="dag-parse-bench-")
    env = {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONWARNINGS": "ignore",
    }
    variants = {
        "baseline": BASELINE,
        "providers": PROVIDERS,
        "dag": DAG_FILE.format(path=args.dag_file),
        "preimport": PREIMPORTED.format(path=args.dag_file),
    }
    # warm the OS page cache and let Airflow write its default config once
    for body in variants.values():
        sample(body, env)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.runs):
        for name, body in variants.items():
            times[name].append(sample(body, env))
    med = {name: statistics.median(values) for name, values in times.items()}

    figure = med["dag"] - med["baseline"]
    providers = med["providers"] - med["baseline"]
    print(f"runs per variant: {args.runs} (fresh processes, in-process perf_counter)")
    for name in variants:
        spread = f"{min(times[name]):.1f}..{max(times[name]):.1f}"
        print(f"  median {name:9s} {med[name]:8.1f} ms  (range {spread})")
    print(f"  provider modules alone (amazon S3ToRedshift, common.sql, standard): {providers:.1f} ms on top")
    print(
        f"  the DAG file once the airflow.* modules it names are loaded (our plugins, SQL path, DAG object;"
        f" what the dag processor pays per parse): {med['preimport']:.1f} ms"
    )
    print(f"  goal: < {GOAL_MS:.0f} ms on top of airflow.sdk")
    print(
        f"dag_parse: {figure:.1f} ms on top of airflow.sdk ({figure / med['baseline']:.3f}x of its {med['baseline']:.0f} ms)"
    )


if __name__ == "__main__":
    main()
