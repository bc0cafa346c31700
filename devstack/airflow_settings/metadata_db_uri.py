"""Print the local Airflow's metadata database URI (`[database] sql_alchemy_conn_cmd`).

`devstack.local_airflow` writes `sql_alchemy_conn_cmd = <python> <this file> <stack.json>` into
`.devstack/airflow/airflow.cfg`, so `AIRFLOW_HOME=.devstack/airflow airflow ...` reaches the right
database from any shell while the password stays in stack.json (0600), not in airflow.cfg.
Standard library only: Airflow runs it as a plain command.
"""

import json
import sys
from pathlib import Path

config = json.loads(Path(sys.argv[1]).read_text())
print(f"postgresql://airflow:{config['airflow_db_password']}@{config['host']}:{config['pg_port']}/airflow", end="")  # Airflow does not strip a newline
