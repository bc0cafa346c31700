#!/usr/bin/env bash
# redshift-db's first start (/docker-entrypoint-initdb.d, official postgres image and our stand-in):
# the warehouse's application role, as devstack/postgres.py makes it: it logs in and owns the
# warehouse database, but is no superuser, so no client of the endpoint can run
# `COPY ... TO PROGRAM`, read server files (pg_read_file) or create roles. The superuser is
# POSTGRES_USER, used by nothing but this script.
set -euo pipefail
: "${SPARKIFY_APP_USER:?}" "${SPARKIFY_APP_PASSWORD:?}" "${SPARKIFY_APP_DB:?}"
psql -v ON_ERROR_STOP=1 --no-psqlrc -q --username "$POSTGRES_USER" --dbname postgres \
  -v app_user="$SPARKIFY_APP_USER" -v app_password="$SPARKIFY_APP_PASSWORD" -v app_db="$SPARKIFY_APP_DB" <<'SQL'
CREATE ROLE :"app_user" LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';
CREATE DATABASE :"app_db" OWNER :"app_user";
SQL
echo "created role $SPARKIFY_APP_USER (no superuser) owning database $SPARKIFY_APP_DB"
