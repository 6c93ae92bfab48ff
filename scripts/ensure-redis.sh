#!/usr/bin/env bash
# ensure-redis.sh: make sure the Redis the test suite uses for shared rate limits is up (127.0.0.1:6379, no
# password, as on this project's machines). Installs Debian's redis-server when it is missing (apt-get
# update only when the package is unknown), starts a server of its own when none answers (no persistence,
# daemonised, logging to $TMPDIR/talon-redis.log), and says clearly what is wrong otherwise. The tests call
# it themselves when they cannot reach Redis; .ci/run calls it before the tests. Safe to run from several
# processes at once (flock).
set -euo pipefail

HOST="${TALON_REDIS_HOST:-127.0.0.1}"
PORT="${TALON_REDIS_PORT:-6379}"

log() { printf 'ensure-redis: %s\n' "$*" >&2; }
ready() { command -v redis-cli >/dev/null 2>&1 && [ "$(redis-cli -h "$HOST" -p "$PORT" ping 2>/dev/null)" = PONG ]; }

if ready; then
    exit 0
fi

LOCK="${TMPDIR:-/tmp}/talon-ensure-redis.lock"
exec 9>"$LOCK"
flock 9
# Another process may have started it while this one waited for the lock.
if ready; then
    exit 0
fi

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    SUDO=""
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { log "not root and no sudo: install redis-server"; exit 1; }
        SUDO="sudo -n"
    fi
    command -v apt-get >/dev/null 2>&1 || { log "apt-get not found: install redis-server by hand"; exit 1; }
    if ! apt-cache show redis-server >/dev/null 2>&1; then
        log "apt-get update"
        $SUDO apt-get update -qq >&2
    fi
    log "installing redis-server"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >&2
fi
if ready; then
    exit 0
fi

if [ "$HOST" = 127.0.0.1 ] || [ "$HOST" = localhost ]; then
    log "starting redis-server on port $PORT"
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --logfile "${TMPDIR:-/tmp}/talon-redis.log" >&2
    for _ in $(seq 1 50); do
        ready && exit 0
        sleep 0.1
    done
fi
log "no Redis answers at $HOST:$PORT and none could be started here"
exit 1
