#!/usr/bin/env bash
# Makes sure a Chromium browser is available for the browser smoke test (tests/scheduler).
# On Debian/Ubuntu, installs the system package `chromium` when allowed: in CI, or with
# SPARKIFY_INSTALL_PACKAGES=1 (otherwise it asks). playwright drives it with executable_path:
# no browser download.
set -euo pipefail
find_chromium() {
  [ -n "${SPARKIFY_CHROMIUM:-}" ] && [ -x "$SPARKIFY_CHROMIUM" ] && return 0
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null
}
if find_chromium; then exit 0; fi
echo "Chromium (for the browser smoke test) not found."
if ! command -v apt-get >/dev/null; then
  echo "Install Chromium with your package manager (or set SPARKIFY_CHROMIUM=/path/to/chrome), then retry." >&2
  exit 1
fi
allow="${SPARKIFY_INSTALL_PACKAGES:-}"
if [ -z "$allow" ] && [ "${CI:-}" = "true" ]; then allow=1; fi
if [ -z "$allow" ] && [ -t 0 ]; then
  read -r -p "Install the Debian package 'chromium' now? [y/N] " answer
  [[ "$answer" =~ ^[Yy] ]] && allow=1
fi
if [ "$allow" != "1" ]; then
  echo "Run: sudo apt-get install -y chromium  (or set SPARKIFY_INSTALL_PACKAGES=1)" >&2
  exit 1
fi
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
# Another apt may hold the dpkg lock for a while: retry.
for attempt in 1 2 3 4 5; do
  $sudo apt-get update -q >/dev/null \
    && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium && break
  echo "apt-get failed (attempt $attempt); retrying in 15 s" >&2
  sleep 15
done
find_chromium || { echo "chromium still not found after installing it" >&2; exit 1; }
