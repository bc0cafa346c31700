# Sourced by ensure_postgres.sh and ensure_chromium.sh (one way to install a missing prerequisite).
#
# offer_apt_install PACKAGE WHAT OTHERWISE: says WHAT was not found and installs the Debian package
# PACKAGE when allowed: in CI (CI=true), with SPARKIFY_INSTALL_PACKAGES=1, or when the user answers
# yes at a terminal. Exits 1 with OTHERWISE (the manual way) where there is no apt-get, and with the
# apt-get command to run when not allowed.
offer_apt_install() {
  local package="$1" what="$2" otherwise="$3" allow answer attempt sudo=""
  echo "$what not found."
  if ! command -v apt-get >/dev/null; then
    echo "$otherwise" >&2
    exit 1
  fi
  allow="${SPARKIFY_INSTALL_PACKAGES:-}"
  if [ -z "$allow" ] && [ "${CI:-}" = "true" ]; then allow=1; fi
  if [ -z "$allow" ] && [ -t 0 ]; then
    read -r -p "Install the Debian package '$package' now? [y/N] " answer
    [[ "$answer" =~ ^[Yy] ]] && allow=1
  fi
  if [ "$allow" != "1" ]; then
    echo "Run: sudo apt-get install -y $package  (or set SPARKIFY_INSTALL_PACKAGES=1)" >&2
    exit 1
  fi
  [ "$(id -u)" = 0 ] || sudo="sudo"
  # Another apt may hold the dpkg lock for a while: retry.
  for attempt in 1 2 3 4 5; do
    $sudo apt-get update -q >/dev/null \
      && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$package" && return 0
    echo "apt-get failed (attempt $attempt); retrying in 15 s" >&2
    sleep 15
  done
  return 1
}
