#!/usr/bin/env bash
# Makes sure a Chromium browser is available for the browser smoke test (tests/scheduler).
# On Debian/Ubuntu, installs the system package `chromium` when allowed (see offer_apt_install.sh).
# playwright drives it with executable_path: no browser download.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/offer_apt_install.sh"
find_chromium() {
  [ -n "${SPARKIFY_CHROMIUM:-}" ] && [ -x "$SPARKIFY_CHROMIUM" ] && return 0
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null
}
if find_chromium; then exit 0; fi
offer_apt_install chromium "Chromium (for the browser smoke test)" \
  "Install Chromium with your package manager (or set SPARKIFY_CHROMIUM=/path/to/chrome), then retry." || true
find_chromium || { echo "chromium still not found after installing it" >&2; exit 1; }
