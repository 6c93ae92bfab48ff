#!/usr/bin/env bash
# bench/run.sh: Talon's throughput benchmark, on loopback, every figure measured in one run.
#
# Builds the release binary, starts `talon serve` on a fresh SQLite file with demo hosts and limits raised
# out of the way, and drives it with wrk (installed from Debian if missing) for DURATION seconds per route:
#   1. GET /healthz                          the ceiling of the HTTP stack on this machine
#   2. POST /oauth2/token                    client credentials -> signed JWT
#   3. GET /devices/queries/devices/v1       QueryDevicesByFilter with a valid bearer token
#   4. GET /alerts/queries/alerts/v2         the generic engine: a filtered, sorted query of the demo alerts
#                                            (read from the store and filtered on every request)
# then prints requests/s, p50 and p99 latency for each, the server's CPU time per request (from /proc: less
# sensitive than throughput to what else the machine runs), and the ratios token/ceiling, guarded/ceiling
# and generic/ceiling. Targets: token/ceiling >= 0.5, guarded/ceiling >= 0.85 (generic: reported).
#
# The load generator shares the machine's cores with the server, so single runs are noisy: after a warm-up,
# the three routes are measured in ROUNDS interleaved rounds and each figure is the median of its rounds.
#
# Usage: bench/run.sh   (DURATION=5 seconds per route per round, ROUNDS=5, CONNECTIONS=64, THREADS=1;
#                        GENERIC=0 leaves the fourth route out: for builds older than the generic engine, and
#                        to see whether its rounds disturb the other three)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-5}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-1}"
GENERIC="${GENERIC:-1}"

bench_ensure_wrk
bench_build
bench_start_server

TOKEN="$(curl -sf -X POST "$BASE/oauth2/token" -d "client_id=$ID&client_secret=$SECRET" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')"
# Sanity: every route answers as it should before it is measured.
curl -sf -o /dev/null "$BASE/healthz"
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/devices/queries/devices/v1"

# The generic engine's route, with a client of its own scope (the hosts client stays as it was).
if [ "$GENERIC" != 0 ]; then
alerts_json="$("$BIN" clients --database "sqlite://$WORK/bench.db" create --name bench-alerts --scope alerts:read --json)"
ALERTS_ID="$(printf '%s' "$alerts_json" | sed 's/.*"client_id":"\([0-9a-f]*\)".*/\1/')"
ALERTS_SECRET="$(printf '%s' "$alerts_json" | sed 's/.*"client_secret":"\([A-Za-z0-9]*\)".*/\1/')"
for _ in $(seq 1 100); do
    ALERTS_TOKEN="$(curl -sf -X POST "$BASE/oauth2/token" -d "client_id=$ALERTS_ID&client_secret=$ALERTS_SECRET" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')" && break
    sleep 0.05
done
GENERIC_URL="$BASE/alerts/queries/alerts/v2?filter=severity:%3E%3D40%2Bstatus:!'closed'&sort=severity.desc&limit=50"
[ "$(curl -sf -H "Authorization: Bearer $ALERTS_TOKEN" "$GENERIC_URL" | grep -o '"total":[0-9]*' | cut -d: -f2)" -gt 0 ] || {
    echo "bench: the generic query selects no demo alert" >&2; exit 1
}
fi

cat >"$WORK/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "client_id=$ID&client_secret=$SECRET"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
-- Count non-2xx answers: a benchmark of refusals would be worthless.
done = function(summary, latency, requests)
  if summary.errors.status > 0 then io.stderr:write("bench: non-2xx answers: " .. summary.errors.status .. "\n") end
end
LUA

run() { # name url [wrk args...] -> "rps p50 p99 cpu_us_per_request"
    local name="$1" url="$2"; shift 2
    local before after
    before="$(server_ticks)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" >"$WORK/$name.out" 2>&1
    after="$(server_ticks)"
    if grep -q "Non-2xx" "$WORK/$name.out"; then
        echo "bench: $name had non-2xx answers:" >&2; grep "Non-2xx" "$WORK/$name.out" >&2; exit 1
    fi
    awk -v ticks="$((after - before))" -v hz="$(getconf CLK_TCK)" -v secs="$DURATION" '
        /Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
        END {printf "%s %s %s %.1f\n", rps, p50, p99, ticks / hz * 1e6 / (rps * secs)}' "$WORK/$name.out"
}

ROUTES=(healthz token guarded)
[ "$GENERIC" != 0 ] && ROUTES+=(generic)
measure() { # route
    case "$1" in
        healthz) run healthz "$BASE/healthz" ;;
        token) run token "$BASE/oauth2/token" -s "$WORK/token.lua" ;;
        guarded) run guarded "$BASE/devices/queries/devices/v1" -H "Authorization: Bearer $TOKEN" ;;
        generic) run generic "$GENERIC_URL" -H "Authorization: Bearer $ALERTS_TOKEN" ;;
    esac
}

echo "bench: warming up" >&2
for route in "${ROUTES[@]}"; do DURATION=2 measure "$route" >/dev/null; done
for round in $(seq 1 "$ROUNDS"); do
    for route in "${ROUTES[@]}"; do
        echo "$(measure "$route")" >>"$WORK/$route.rounds"
        echo "bench: round $round $route: $(tail -1 "$WORK/$route.rounds")" >&2
    done
done

median() { # file -> the line with the median requests/s
    sort -n -k1,1 "$1" | awk '{ line[NR] = $0 } END { print line[int((NR + 1) / 2)] }'
}
read -r CEIL_RPS CEIL_P50 CEIL_P99 CEIL_CPU < <(median "$WORK/healthz.rounds")
read -r TOKEN_RPS TOKEN_P50 TOKEN_P99 TOKEN_CPU < <(median "$WORK/token.rounds")
read -r GUARD_RPS GUARD_P50 GUARD_P99 GUARD_CPU < <(median "$WORK/guarded.rounds")
GEN_RPS=0 GEN_P50=- GEN_P99=- GEN_CPU=0
[ "$GENERIC" != 0 ] && read -r GEN_RPS GEN_P50 GEN_P99 GEN_CPU < <(median "$WORK/generic.rounds")

printf '\nTalon benchmark: median of %s rounds of %s s per route, %s connections, %s wrk thread(s), %s cores, loopback\n' \
    "$ROUNDS" "$DURATION" "$CONNECTIONS" "$THREADS" "$(nproc)"
printf '%-40s %12s %10s %10s %16s\n' route "requests/s" p50 p99 "server CPU/req"
printf '%-40s %12s %10s %10s %13s us\n' "GET /healthz (ceiling)" "$CEIL_RPS" "$CEIL_P50" "$CEIL_P99" "$CEIL_CPU"
printf '%-40s %12s %10s %10s %13s us\n' "POST /oauth2/token" "$TOKEN_RPS" "$TOKEN_P50" "$TOKEN_P99" "$TOKEN_CPU"
printf '%-40s %12s %10s %10s %13s us\n' "GET /devices/queries/devices/v1" "$GUARD_RPS" "$GUARD_P50" "$GUARD_P99" "$GUARD_CPU"
[ "$GENERIC" != 0 ] && printf '%-40s %12s %10s %10s %13s us\n' "GET /alerts/queries/alerts/v2 (filtered)" "$GEN_RPS" "$GEN_P50" "$GEN_P99" "$GEN_CPU"
# Three decimals, so that a figure just under a target cannot print as meeting it.
awk -v c="$CEIL_RPS" -v t="$TOKEN_RPS" -v g="$GUARD_RPS" -v e="$GEN_RPS" -v cc="$CEIL_CPU" -v tc="$TOKEN_CPU" -v gc="$GUARD_CPU" 'BEGIN {
    printf "\nratio token/ceiling   = %.3f (target >= 0.50)\n", t / c
    printf "ratio guarded/ceiling = %.3f (target >= 0.85)\n", g / c
    if (e > 0) printf "ratio generic/ceiling = %.3f (reported)\n", e / c
    printf "server CPU per request, ceiling/route (less sensitive to the load generator): token %.3f, guarded %.3f\n", cc / tc, cc / gc
}'
