"""Small, import-cheap helpers shared by the DAG files."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that overrides where the ``sql/`` folder is.
SQL_DIR_ENV = "SPARKIFY_SQL_DIR"

#: Connection ids (see docs/CONTRACTS.md).
REDSHIFT_CONN_ID = "redshift_default"
AWS_CONN_ID = "aws_default"

def sql_dir(dag_file: str | os.PathLike[str]) -> str:
    """Return the folder holding the project's SQL files, for ``template_searchpath``.

    ``$SPARKIFY_SQL_DIR`` wins when set. Otherwise ``sql/`` is expected beside the folder holding the
    DAG file: that is both the repository layout (``dags/``, ``sql/``) and the container layout
    (``/opt/airflow/dags``, ``/opt/airflow/sql``). Symlinked DAG files are followed as a fallback.
    Costs at most two ``stat`` calls; never reads a file.
    """
    override = os.environ.get(SQL_DIR_ENV)
    if override:
        return override
    here = Path(dag_file).absolute().parent.parent / "sql"
    if here.is_dir():
        return str(here)
    resolved = Path(dag_file).resolve().parent.parent / "sql"
    return str(resolved if resolved.is_dir() else here)
