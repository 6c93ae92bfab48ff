#!/usr/bin/env bash
# bench/scale.sh: how Talon's costs grow with the number of API clients (issue "Scale"), on loopback.
#
# For each backend (BACKENDS, default "sqlite postgres") and each size (SIZES, default
# "1000 10000 100000 1000000"), on a fresh store:
#   1. imports SIZE clients with `talon clients import` (JSON lines, the admin API's create body): its time;
#   2. starts a node and measures its start (until it listens, every client loaded) and its RSS;
#   3. makes CHANGES admin creates and CHANGES admin updates through the admin API (curl's own timing of
#      each request): p50 and p99 of each;
#   4. starts a second node on the same store and measures, PROPAGATIONS times, how long after an admin
#      create on node A the new client gets a token from node B (polled every 10 ms);
#   5. times a list page (100 clients) at the start, in the middle by offset, and in the middle by seek
#      (the `after` token of the page before it);
#   6. drives the token endpoint, a guarded query and /healthz with wrk (DURATION s each) on node A:
#      token/ceiling and guarded/ceiling, as bench/run.sh reports them.
# Memory per client is (RSS at SIZE - RSS of a node with no imported clients) / SIZE.
#
# Not a timed test: the figures depend on the machine. Targets (issue): at 1M clients, admin change p50
# <= 20 ms, propagation <= 250 ms, list page <= 50 ms, <= 1 KB per client above the empty node, token and
# bearer ratios as with few clients.
#
# Usage: bench/scale.sh   (SIZES="1000 10000 100000 1000000" BACKENDS="sqlite postgres" CHANGES=25
#                          PROPAGATIONS=9 DURATION=5; TALON_BENCH_BIN=path uses that binary)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZES="${SIZES:-1000 10000 100000 1000000}"
BACKENDS="${BACKENDS:-sqlite postgres}"
CHANGES="${CHANGES:-25}"
PROPAGATIONS="${PROPAGATIONS:-9}"
DURATION="${DURATION:-5}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"

bench_ensure_wrk
bench_build
SCALE="$(mktemp -d)"
NODES=()
cleanup() {
    for pid in "${NODES[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$SCALE"
}
trap cleanup EXIT

ms() { awk -v s="$1" 'BEGIN { printf "%.1f", s * 1000 }'; }
now_s() { date +%s.%N; }
# p50 and p99 (nearest rank) of the numbers in a file, one a line.
percentiles() { sort -g "$1" | awk '{ v[NR] = $1 } END { p50 = v[int((NR + 1) / 2)]; i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; printf "%.1f %.1f\n", p50 * 1000, v[i] * 1000 }'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# start_node URL LOG -> sets NODE_PID, NODE_BASE, NODE_START_S
start_node() {
    local url="$1" log="$2" t0
    t0="$(now_s)"
    RUST_LOG=warn,talon=info "$BIN" serve --listen 127.0.0.1:0 --database "$url" --demo-hosts 100 \
        --oauth2-rate 100000000 --api-rate 100000000 --auth-failure-rate 100000000 --bad-token-rate 100000000 \
        >"$log.out" 2>"$log" &
    NODE_PID=$!
    NODES+=("$NODE_PID")
    for _ in $(seq 1 60000); do
        grep -q "address=" "$log" 2>/dev/null && break
        kill -0 "$NODE_PID" 2>/dev/null || { echo "scale: the node died:" >&2; cat "$log" >&2; exit 1; }
        sleep 0.01
    done
    NODE_START_S="$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { print b - a }')"
    NODE_BASE="$(grep -o 'address=http://[0-9.:]*' "$log" | head -1 | cut -d= -f2)"
    [ -n "$NODE_BASE" ] || { echo "scale: the node did not start" >&2; cat "$log" >&2; exit 1; }
}

stop_nodes() {
    for pid in "${NODES[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${NODES[@]}"; do wait "$pid" 2>/dev/null || true; done
    NODES=()
}

token_of() { # base id secret -> access token
    curl -sf -X POST "$1/oauth2/token" -d "client_id=$2&client_secret=$3" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}

new_client() { # url name scope... -> "id secret"
    local url="$1" name="$2"; shift 2
    local args=() json
    for s in "$@"; do args+=(--scope "$s"); done
    json="$("$BIN" clients --database "$url" create --name "$name" "${args[@]}" --json)"
    printf '%s %s\n' "$(printf '%s' "$json" | sed 's/.*"client_id":"\([0-9a-f]*\)".*/\1/')" \
        "$(printf '%s' "$json" | sed 's/.*"client_secret":"\([A-Za-z0-9]*\)".*/\1/')"
}

wrk_rps() { # url [wrk args] -> requests/s
    local url="$1"; shift
    wrk -t1 -c64 -d"${DURATION}s" "$@" "$url" 2>&1 | awk '/Requests\/sec/ { print $2 } /Non-2xx/ { print "non-2xx" > "/dev/stderr" }'
}

printf 'backend size import_s start_s rss_mb kb_per_client create_p50_ms create_p99_ms update_p50_ms update_p99_ms propagation_p50_ms propagation_max_ms list_start_ms list_mid_offset_ms list_mid_seek_ms token/ceiling guarded/ceiling\n' >"$SCALE/results"

for backend in $BACKENDS; do
    for size in 0 $SIZES; do
        run="$SCALE/$backend-$size"
        mkdir -p "$run"
        case "$backend" in
            sqlite) url="sqlite://$run/talon.db" ;;
            postgres)
                db="talon_scale_$$_$size"
                psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
                psql "$PG/postgres" -qc "CREATE DATABASE $db" >/dev/null
                url="$PG/$db" ;;
            *) echo "scale: unknown backend $backend" >&2; exit 1 ;;
        esac
        echo "scale: $backend, $size clients" >&2
        read -r ADMIN_ID ADMIN_SECRET < <(new_client "$url" scale-admin api-clients:read api-clients:write devices:read)
        read -r HOSTS_ID HOSTS_SECRET < <(new_client "$url" scale-hosts devices:read)

        import_s=0
        if [ "$size" -gt 0 ]; then
            awk -v n="$size" 'BEGIN { for (i = 0; i < n; i++) printf "{\"name\":\"scale client %07d\",\"scopes\":[\"devices:read\"]}\n", i }' >"$run/clients.jsonl"
            t0="$(now_s)"
            "$BIN" clients --database "$url" import "$run/clients.jsonl" --secrets-out "$run/secrets.jsonl" --batch 10000 2>/dev/null
            import_s="$(awk -v a="$t0" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }')"
            rm -f "$run/clients.jsonl" "$run/secrets.jsonl"
        fi

        start_node "$url" "$run/a.log"
        A_PID="$NODE_PID" A="$NODE_BASE" start_s="$(awk -v s="$NODE_START_S" 'BEGIN { printf "%.2f", s }')"
        ADMIN_TOKEN="$(token_of "$A" "$ADMIN_ID" "$ADMIN_SECRET")"
        rss="$(rss_kb "$A_PID")"
        if [ "$size" -eq 0 ]; then
            EMPTY_RSS="$rss"
            stop_nodes
            [ "$backend" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
            continue
        fi

        # Admin changes, each timed by curl (the request alone, not the process).
        : >"$run/create" ; : >"$run/update"
        for i in $(seq 1 "$CHANGES"); do
            body="{\"name\":\"scale change $i\",\"scopes\":[\"devices:read\"]}"
            answer="$(curl -sf -w '\n%{time_total}' -X POST "$A/api-clients/entities/clients/v1" \
                -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d "$body")"
            echo "$answer" | tail -1 >>"$run/create"
            id="$(echo "$answer" | head -1 | sed 's/.*"client_id":"\([0-9a-f]*\)".*/\1/')"
            curl -sf -o /dev/null -w '%{time_total}\n' -X PATCH "$A/api-clients/entities/clients/v1/$id" \
                -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
                -d '{"description":"changed"}' >>"$run/update"
        done
        read -r create_p50 create_p99 < <(percentiles "$run/create")
        read -r update_p50 update_p99 < <(percentiles "$run/update")

        # Propagation: created on A, first token from B.
        start_node "$url" "$run/b.log"
        B="$NODE_BASE"
        : >"$run/propagation"
        for i in $(seq 1 "$PROPAGATIONS"); do
            # A pause of 0 to 250 ms first: else each create follows B's last refresh by the same few
            # milliseconds (the previous poll succeeded just after it) and every wait is nearly a full interval.
            sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", (r % 250) / 1000 }')"
            answer="$(curl -sf -X POST "$A/api-clients/entities/clients/v1" -H "Authorization: Bearer $ADMIN_TOKEN" \
                -H 'Content-Type: application/json' -d "{\"name\":\"propagated $i\",\"scopes\":[\"devices:read\"]}")"
            t0="$(now_s)"
            id="$(echo "$answer" | sed 's/.*"client_id":"\([0-9a-f]*\)".*/\1/')"
            secret="$(echo "$answer" | sed 's/.*"client_secret":"\([A-Za-z0-9]*\)".*/\1/')"
            for _ in $(seq 1 1000); do
                [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/oauth2/token" -d "client_id=$id&client_secret=$secret")" = 201 ] && break
                sleep 0.01
            done
            awk -v a="$t0" -v b="$(now_s)" 'BEGIN { print b - a }' >>"$run/propagation"
        done
        read -r prop_p50 _ < <(percentiles "$run/propagation")
        prop_max="$(sort -g "$run/propagation" | tail -1 | awk '{ printf "%.1f", $1 * 1000 }')"

        # List pages: the first, the middle by offset, the middle by seek.
        list() { curl -sf -o "$run/page" -w '%{time_total}' -H "Authorization: Bearer $ADMIN_TOKEN" "$A/api-clients/entities/clients/v1?$1"; }
        list_start="$(ms "$(list 'limit=100')")"
        list_mid_offset="$(ms "$(list "offset=$((size / 2))&limit=100")")"
        after="$(grep -o '"after":"[^"]*"' "$run/page" | cut -d'"' -f4)"
        list_mid_seek="$(ms "$(list "after=$after&limit=100")")"

        # Throughput on node A with every client loaded.
        HOSTS_TOKEN="$(token_of "$A" "$HOSTS_ID" "$HOSTS_SECRET")"
        cat >"$run/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "client_id=$HOSTS_ID&client_secret=$HOSTS_SECRET"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
        ceiling="$(wrk_rps "$A/healthz")"
        token_rps="$(wrk_rps "$A/oauth2/token" -s "$run/token.lua")"
        guarded="$(wrk_rps "$A/devices/queries/devices/v1" -H "Authorization: Bearer $HOSTS_TOKEN")"
        rss="$(rss_kb "$A_PID")"
        stop_nodes
        [ "$backend" = postgres ] && psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1

        awk -v b="$backend" -v n="$size" -v imp="$import_s" -v st="$start_s" -v rss="$rss" -v empty="$EMPTY_RSS" \
            -v c50="$create_p50" -v c99="$create_p99" -v u50="$update_p50" -v u99="$update_p99" \
            -v p50="$prop_p50" -v pmax="$prop_max" -v ls="$list_start" -v lo="$list_mid_offset" -v lk="$list_mid_seek" \
            -v ce="$ceiling" -v tk="$token_rps" -v gu="$guarded" 'BEGIN {
            printf "%s %d %s %s %.0f %.2f %s %s %s %s %.1f %s %s %s %s %.3f %.3f\n", b, n, imp, st, rss / 1024,
                (rss - empty) / n, c50, c99, u50, u99, p50, pmax, ls, lo, lk, tk / ce, gu / ce }' >>"$SCALE/results"
        tail -1 "$SCALE/results" >&2
    done
done

echo
column -t "$SCALE/results"
