#!/usr/bin/env bash
# The part of apache/airflow's /entrypoint that docker-compose.yaml relies on: `bash ...` and
# `python ...` run as given, anything else runs as an `airflow` subcommand (`scheduler`,
# `celery worker`, `airflow db migrate`). _AIRFLOW_DB_MIGRATE=true migrates first, as the official
# entrypoint does; the compose file itself calls `airflow db migrate` explicitly.
# Not emulated: waiting for the DB/broker (compose healthchecks order the start-up instead),
# _AIRFLOW_WWW_USER_CREATE (FAB only), _PIP_ADDITIONAL_REQUIREMENTS, arbitrary-uid /etc/passwd entries.
set -euo pipefail
umask 0002
if [[ "${_AIRFLOW_DB_MIGRATE:-false}" == "true" ]]; then
  airflow db migrate
fi
case "${1:-}" in
  "") exec airflow ;;
  bash) shift; exec /bin/bash "$@" ;;
  python) shift; exec python "$@" ;;
  airflow) shift ;;
esac
exec airflow "$@"
