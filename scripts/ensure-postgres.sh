#!/usr/bin/env bash
# ensure-postgres.sh: make sure the PostgreSQL server the test suite uses is up (127.0.0.1:5432, user
# postgres, trust auth on this project's machines). Starts the local cluster when it is installed but
# stopped; says clearly what is missing otherwise. The tests call it themselves when they cannot connect.
set -euo pipefail

HOST="${TALON_PG_HOST:-127.0.0.1}"
PORT="${TALON_PG_PORT:-5432}"

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
    echo "ensure-postgres: PostgreSQL client tools are not installed (apt-get install postgresql)" >&2
    exit 1
fi
if ready; then
    exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
        echo "ensure-postgres: starting PostgreSQL $version (cluster main)" >&2
        pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
    done
    for _ in $(seq 1 50); do
        ready && exit 0
        sleep 0.2
    done
fi
echo "ensure-postgres: no PostgreSQL answers at $HOST:$PORT and none could be started here" >&2
exit 1
