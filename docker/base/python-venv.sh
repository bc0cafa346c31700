#!/usr/bin/env bash
# Runs inside a container of the Debian base (build-images.sh, step 3) with the wheelhouse mounted on
# /wheels and the locks on /locks: makes /usr/local/venv with exactly the locked packages, offline.
# Changing this file changes the cache key of the Python and Airflow stand-ins.
set -euo pipefail
python3.11 -m venv /usr/local/venv
/usr/local/venv/bin/pip install -q --no-index --find-links /wheels uv==0.13.9
# --compile-bytecode: the venv is root-owned, so processes running as airflow (50000) could
# never write .pyc files and would recompile Airflow on every start (~40 s per CLI call).
/usr/local/venv/bin/uv pip install -q --no-cache --compile-bytecode --python /usr/local/venv/bin/python \
  --no-index --find-links /wheels -r /locks/requirements.lock -r /locks/celery.lock
/usr/local/venv/bin/pip uninstall -q -y uv
