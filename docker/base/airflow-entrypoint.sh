#!/usr/bin/env bash
# The part of apache/airflow's /entrypoint that docker-compose.yaml relies on:
# - an arbitrary uid (AIRFLOW_UID, group 0) gets an /etc/passwd entry with HOME=/home/airflow, as the
#   official entrypoint's create_system_user_if_missing does (Airflow refuses to run for a uid
#   without a user name: "The user that Airflow is running as has no username");
# - `bash ...` and `python ...` run as given, anything else runs as an `airflow` subcommand
#   (`scheduler`, `celery worker`, `airflow db migrate`);
# - _AIRFLOW_DB_MIGRATE=true migrates first.
# Refused loudly rather than ignored: _PIP_ADDITIONAL_REQUIREMENTS (this image installs offline only).
# Not emulated: waiting for the DB/broker (compose healthchecks order the start-up instead),
# _AIRFLOW_WWW_USER_CREATE (FAB only).
set -euo pipefail
umask 0002

if ! whoami >/dev/null 2>&1; then
  # /etc/passwd is group-writable by group 0 (the image's `chmod g=u /etc/passwd`, as upstream's).
  if [[ -w /etc/passwd ]]; then
    echo "default:x:$(id -u):0:default user:${AIRFLOW_USER_HOME_DIR}:/sbin/nologin" >> /etc/passwd
  fi
  export HOME="${AIRFLOW_USER_HOME_DIR}"
fi

if [[ -n "${_PIP_ADDITIONAL_REQUIREMENTS:-}" ]]; then
  echo "ERROR: _PIP_ADDITIONAL_REQUIREMENTS is set (${_PIP_ADDITIONAL_REQUIREMENTS}), but this local" \
    "stand-in for apache/airflow has no package index (PIP_NO_INDEX=1). Add the packages to" \
    "docker/airflow-requirements.txt and requirements.lock, then rebuild." >&2
  exit 1
fi

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
