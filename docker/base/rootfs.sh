#!/usr/bin/env bash
# Writes a minimal Debian bookworm root filesystem, as a tar stream on stdout, built on the host from
# Debian's own packages (no container registry involved). build-images.sh `docker import`s it.
#
# One root filesystem carries the packages of every stand-in (Python 3.11, PostgreSQL 15, Redis
# 7.0, curl, dumb-init): each stand-in image is then a thin layer on one shared base, and no
# build step needs a package archive from inside a container.
# Changing this file changes the cache key of every stand-in image.
set -euo pipefail
export LC_ALL=C.UTF-8
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PACKAGES=(
  ca-certificates curl dumb-init netbase procps tzdata
  python3.11 python3.11-venv          # the interpreter requirements.lock is compiled for
  postgresql-15 postgresql-client-15  # stands in for postgres:16 / postgres:15
  redis-server                        # stands in for redis:7.2-bookworm (brings redis-cli)
)
include=$(IFS=,; echo "${PACKAGES[*]}")
# mmdebstrap's own messages go to stderr; "-" as target writes the tarball to stdout.
# The customize hook drops what an image never needs: apt lists, the cluster postgresql-15's
# postinst creates (the stand-in initialises its own in $PGDATA, as the official image does).
exec mmdebstrap --variant=minbase --include="$include" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/lib/postgresql/15/main "$1"/etc/postgresql/15/main' \
  bookworm - \
  "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main"
