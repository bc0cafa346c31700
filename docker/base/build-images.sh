#!/usr/bin/env bash
# Builds the local stand-ins for the public images docker-compose.yaml uses, with no container
# registry: a Debian bookworm root filesystem made on the host (rootfs.sh, mmdebstrap) is
# `docker import`ed, and each stand-in is built on it. Python packages come from a wheelhouse
# downloaded on the host from requirements.lock + celery.lock and installed with --no-index.
#
#   sparkify-base/debian:bookworm              the imported root filesystem
#   sparkify-base/postgres:15-bookworm         for postgres:16 (Airflow) and postgres:15 (redshift-db)
#   sparkify-base/redis:7.0-bookworm           for redis:7.2-bookworm
#   sparkify-base/python:3.11-bookworm         for python:3.11-slim (+ the locked packages)
#   sparkify-base/airflow:3.3.2-python3.11     for apache/airflow:3.3.2-python3.11
#
# docker/local-images.env maps the compose file's image variables onto these tags.
# Cache: each image carries the label org.sparkify.inputs = a hash of everything it is built
# from (its parent's hash included); an image whose label matches is not rebuilt.
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=docker/base
WORK=${SPARKIFY_DOCKER_WORK:-.devstack/docker}
PIP=${PIP:-.venv/bin/pip}
LABEL=org.sparkify.inputs
LOCKS=(requirements.lock "$BASE/celery.lock")
APT_LOCK_TIMEOUT=${SPARKIFY_APT_LOCK_TIMEOUT:-300}

DEBIAN=sparkify-base/debian:bookworm
POSTGRES=sparkify-base/postgres:15-bookworm
REDIS=sparkify-base/redis:7.0-bookworm
PYTHON=sparkify-base/python:3.11-bookworm
AIRFLOW=sparkify-base/airflow:3.3.2-python3.11

say() { printf '[base-images] %s\n' "$*" >&2; }
# Hash of a parent hash (may be empty) and the contents of files, in order.
key() { local parent=$1; shift; { echo "$parent"; cat "$@"; } | sha256sum | cut -c1-16; }
have() { [ "$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null)" = "$2" ]; }
# Every image is made under a temporary tag and only gets its real tag once a shell runs in it:
# a failed or empty build never carries the tag (and cache label) that later runs trust.
staging() { echo "$1-building-$$"; }
promote() {  # temporary-tag final-tag
  if ! docker run --rm --entrypoint /bin/sh "$1" -c 'exit 0' >/dev/null; then
    docker rmi -f "$1" >/dev/null 2>&1 || true
    say "$2: the new image cannot run /bin/sh; not tagged (nothing cached)"
    exit 1
  fi
  docker tag "$1" "$2" && docker rmi "$1" >/dev/null
}

build() {  # tag key dockerfile base-image
  local tag=$1 k=$2 file=$3 parent=$4 tmp
  if have "$tag" "$k"; then say "$tag up to date"; return; fi
  say "building $tag"
  tmp=$(staging "$tag")
  docker build -q --build-arg "BASE_IMAGE=$parent" --label "$LABEL=$k" -t "$tmp" -f "$file" "$BASE" >/dev/null
  promote "$tmp" "$tag"
}

# A fresh clone has no .devstack/ yet: everything below writes under $WORK.
mkdir -p "$WORK"

# 1. Debian root filesystem -------------------------------------------------------------------
k_debian=$(key "" "$BASE/rootfs.sh")
if have "$DEBIAN" "$k_debian"; then
  say "$DEBIAN up to date"
else
  if ! command -v mmdebstrap >/dev/null; then
    # Bounded wait when another apt/dpkg holds the lock (unattended-upgrades on a fresh VM).
    lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT")
    say "installing mmdebstrap (apt-get; waits up to ${APT_LOCK_TIMEOUT}s for the dpkg lock)"
    apt-get "${lock[@]}" install -y -qq mmdebstrap >/dev/null 2>&1 \
      || { apt-get "${lock[@]}" update -qq && apt-get "${lock[@]}" install -y -qq mmdebstrap >/dev/null; } \
      || { say "could not install mmdebstrap (is another apt still running? see above)"; exit 1; }
  fi
  say "building $DEBIAN with mmdebstrap (log: $WORK/rootfs.log)"
  tmp=$(staging "$DEBIAN")
  bash "$BASE/rootfs.sh" 2>"$WORK/rootfs.log" | docker import \
    --change "LABEL $LABEL=$k_debian" --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' \
    - "$tmp" >/dev/null || { tail -20 "$WORK/rootfs.log" >&2; docker rmi -f "$tmp" >/dev/null 2>&1; exit 1; }
  promote "$tmp" "$DEBIAN"
fi

# 2. PostgreSQL and Redis ---------------------------------------------------------------------
build "$POSTGRES" "$(key "$k_debian" "$BASE/postgres.Dockerfile" "$BASE/postgres-entrypoint.sh")" \
  "$BASE/postgres.Dockerfile" "$DEBIAN"
build "$REDIS" "$(key "$k_debian" "$BASE/redis.Dockerfile")" "$BASE/redis.Dockerfile" "$DEBIAN"

# 3. Python 3.11 with the locked packages -----------------------------------------------------
# Not a Dockerfile: the classic builder has no RUN --mount, and COPYing the wheelhouse in would
# leave ~150 MB of wheels in a layer. A container with the wheelhouse bind-mounted installs
# them, then `docker commit` makes the image.
k_python=$(key "$k_debian" "$BASE/python-venv.sh" "${LOCKS[@]}")
if have "$PYTHON" "$k_python"; then
  say "$PYTHON up to date"
else
  wheels=$WORK/wheelhouse
  k_wheels=$(key "" "${LOCKS[@]}")
  if [ "$(cat "$wheels/.inputs" 2>/dev/null)" != "$k_wheels" ]; then
    say "downloading the wheelhouse into $wheels"
    rm -rf "$wheels" && mkdir -p "$wheels"
    # --no-deps: the locks are complete. Binary only: nothing is compiled inside the image.
    "$PIP" download -q --disable-pip-version-check --only-binary=:all: --no-deps \
      --python-version 3.11 --implementation cp --platform manylinux2014_x86_64 \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform linux_x86_64 \
      "${LOCKS[@]/#/-r}" uv==0.13.9 -d "$wheels"
    echo "$k_wheels" > "$wheels/.inputs"
  fi
  say "building $PYTHON (venv /usr/local/venv, offline install)"
  cid=$(docker create -v "$PWD/$wheels:/wheels:ro" -v "$PWD/requirements.lock:/locks/requirements.lock:ro" \
    -v "$PWD/$BASE/celery.lock:/locks/celery.lock:ro" -v "$PWD/$BASE/python-venv.sh:/python-venv.sh:ro" \
    "$DEBIAN" bash /python-venv.sh)
  trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
  docker start -a "$cid"
  # PIP_NO_INDEX: images built FROM this one resolve against what is installed, never PyPI.
  docker commit \
    --change "LABEL $LABEL=$k_python" \
    --change 'ENV VIRTUAL_ENV=/usr/local/venv' \
    --change 'ENV PATH=/usr/local/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1' \
    --change 'CMD ["python3"]' "$cid" "$(staging "$PYTHON")" >/dev/null
  docker rm "$cid" >/dev/null
  trap - EXIT
  promote "$(staging "$PYTHON")" "$PYTHON"
fi

# 4. Airflow ----------------------------------------------------------------------------------
build "$AIRFLOW" "$(key "$k_python" "$BASE/airflow.Dockerfile" "$BASE/airflow-entrypoint.sh")" \
  "$BASE/airflow.Dockerfile" "$PYTHON"
say "done"
