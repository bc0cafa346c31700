#!/usr/bin/env bash
# Writes the .env that docker-compose.yaml reads, from .env.example, without duplicate keys.
#
#   docker/setup-env.sh                    # .env with AIRFLOW_UID=$(id -u) (50000 when run as root)
#   docker/setup-env.sh --local-images     # also the local stand-in images (docker/local-images.env)
#   docker/setup-env.sh [--env-file PATH] [KEY=VALUE ...]   # another file; set more keys
#
# An existing file is kept and only the named keys change, so it is safe to run again. .env is the
# one place for settings: with docker-compose v1, `--env-file` would replace .env, not add to it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
out=$ROOT/.env
local_images=false
pairs=()
while (( $# )); do
  case "$1" in
    --local-images) local_images=true ;;
    --env-file) out=$2; shift ;;
    *=*) pairs+=("$1") ;;
    *) echo "usage: $0 [--local-images] [--env-file PATH] [KEY=VALUE ...]" >&2; exit 2 ;;
  esac
  shift
done

set_key() {  # KEY VALUE: replace the KEY= line (first one) or append it
  local key=$1 value=$2 tmp
  tmp=$(mktemp)
  awk -v k="$key" -v line="$key=$value" '
    index($0, k "=") == 1 { if (!done) print line; done = 1; next } { print }
    END { if (!done) print line }' "$out" > "$tmp"
  cat "$tmp" > "$out" && rm -f "$tmp"
}

[ -f "$out" ] || { cp "$ROOT/.env.example" "$out"; echo "wrote $out from .env.example"; }
uid=$(id -u)
if [ "$uid" = 0 ]; then
  # Airflow must not run as root; 50000 is the image's own airflow user.
  echo "running as root: keeping AIRFLOW_UID=50000 (airflow-init refuses 0)"
  uid=50000
fi
set_key AIRFLOW_UID "$uid"
if $local_images; then
  while IFS='=' read -r key value; do
    set_key "$key" "$value"
  done < <(grep -E '^[A-Z_]+=' "$ROOT/docker/local-images.env")
fi
for pair in "${pairs[@]}"; do
  set_key "${pair%%=*}" "${pair#*=}"
done
echo "$out: AIRFLOW_UID=$uid$($local_images && echo ', local stand-in images')"
