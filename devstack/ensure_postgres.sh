#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl, postgres) are available.
# On Debian/Ubuntu, installs the system package when allowed: as root in CI, or with
# SPARKIFY_INSTALL_PACKAGES=1 (otherwise it asks).
set -euo pipefail
find_initdb() {
  command -v initdb 2>/dev/null && return 0
  ls -1d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 | grep . && return 0
  return 1
}
if find_initdb >/dev/null; then exit 0; fi
echo "PostgreSQL server binaries (initdb/postgres) not found."
if ! command -v apt-get >/dev/null; then
  echo "Install the PostgreSQL server (15 or newer) with your package manager, then retry." >&2
  exit 1
fi
allow="${SPARKIFY_INSTALL_PACKAGES:-}"
if [ -z "$allow" ] && [ "${CI:-}" = "true" ]; then allow=1; fi
if [ -z "$allow" ] && [ -t 0 ]; then
  read -r -p "Install the Debian package 'postgresql' now? [y/N] " answer
  [[ "$answer" =~ ^[Yy] ]] && allow=1
fi
if [ "$allow" != "1" ]; then
  echo "Run: sudo apt-get install -y postgresql  (or set SPARKIFY_INSTALL_PACKAGES=1)" >&2
  exit 1
fi
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q postgresql
find_initdb >/dev/null || { echo "initdb still not found after installing postgresql" >&2; exit 1; }
