#!/usr/bin/env bash
# browser-env.sh: make sure a headless Chromium and its WebDriver (Debian's
# `chromium` and `chromium-driver`) are installed, for the console's browser
# tests (crates/server/tests/console_browser.rs calls this script itself).
#
# - Idempotent and quick when both are there already: nothing is run then.
# - Installs with apt-get (as root, or through sudo when it is available);
#   runs `apt-get update` only when the packages cannot be found without it.
# - Safe to run from several processes at once (flock on a lock file).
# - On success prints the chromedriver path, then the chromium path, one a
#   line, on stdout; progress goes to stderr. Fails loudly otherwise.
#
# Usage: scripts/browser-env.sh
set -euo pipefail

log() { printf 'browser-env: %s\n' "$*" >&2; }

find_tools() {
    DRIVER="$(command -v chromedriver || true)"
    BROWSER="$(command -v chromium || command -v chromium-browser || true)"
    [[ -n "$DRIVER" && -n "$BROWSER" ]]
}

if find_tools; then
    printf '%s\n%s\n' "$DRIVER" "$BROWSER"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "not root and no sudo: install chromium and chromium-driver"; exit 1; }
    SUDO="sudo -n"
fi
command -v apt-get >/dev/null 2>&1 || { log "apt-get not found: install chromium and chromium-driver by hand"; exit 1; }

LOCK="${TMPDIR:-/tmp}/talon-browser-env.lock"
exec 9>"$LOCK"
flock 9
# Another process may have installed them while this one waited for the lock.
if find_tools; then
    printf '%s\n%s\n' "$DRIVER" "$BROWSER"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show chromium chromium-driver >/dev/null 2>&1; then
    log "package lists do not know chromium yet: apt-get update"
    $SUDO apt-get update -qq >&2
fi
log "installing chromium and chromium-driver"
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2

if ! find_tools; then
    log "chromium or chromedriver still missing after the install"
    exit 1
fi
printf '%s\n%s\n' "$DRIVER" "$BROWSER"
