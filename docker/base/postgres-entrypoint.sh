#!/usr/bin/env bash
# The official postgres image's docker-entrypoint.sh, reduced to what it does on first start:
# initdb from POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_INITDB_ARGS, network access with
# POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), CREATE DATABASE POSTGRES_DB, then the
# /docker-entrypoint-initdb.d scripts (*.sh run, *.sql fed to psql) against a server that listens on
# its Unix socket only, as POSTGRES_USER with PGPASSWORD set.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  # Root only fixes ownership of the (possibly fresh) volume, then drops to the postgres user.
  mkdir -p "$PGDATA"
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list, as in the official script
  initdb --username="$user" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") ${POSTGRES_INITDB_ARGS:-} >/dev/null
  printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    # Single-user mode needs no login, whatever --auth-local says.
    printf 'CREATE DATABASE "%s";\n' "$db" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  shopt -s nullglob
  scripts=(/docker-entrypoint-initdb.d/*)
  if (( ${#scripts[@]} )); then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    export PGUSER="$user" PGDATABASE="$db" PGPASSWORD="${POSTGRES_PASSWORD:-}"
    for f in "${scripts[@]}"; do
      case "$f" in
        *.sh) echo "running $f"; bash "$f" ;;
        *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --no-psqlrc -q -f "$f" ;;
        *) echo "ignoring $f" ;;
      esac
    done
    unset PGUSER PGDATABASE PGPASSWORD
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
