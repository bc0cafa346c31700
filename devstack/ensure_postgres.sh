#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) are available.
# On Debian/Ubuntu, installs the system package `postgresql` when allowed (see offer_apt_install.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/offer_apt_install.sh"
find_initdb() {
  command -v initdb 2>/dev/null && return 0
  ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 | grep . && return 0
  return 1
}
if find_initdb >/dev/null; then exit 0; fi
offer_apt_install postgresql "PostgreSQL server binaries (initdb/postgres)" \
  "Install the PostgreSQL server (15 or newer) with your package manager, then retry." || true
find_initdb >/dev/null || { echo "initdb still not found after installing postgresql" >&2; exit 1; }
