# bench/lib.sh: what the benchmarks share, sourced by bench/run.sh and bench/sdk_vs_falconpy.sh.
#
# bench_build             builds the release `talon` binary for this CPU; sets BIN (TALON_BENCH_BIN=path
#                         uses that binary instead, e.g. to compare two commits on one machine in one sitting)
# bench_start_server      starts `talon serve` on a fresh SQLite file in $WORK with 100 demo hosts and every
#                         rate limit out of the way, creates a client holding devices:read; sets BASE, ID,
#                         SECRET, SERVER_PID, and stops the server and removes $WORK on exit
# server_ticks            CPU time (user + system, in clock ticks) the server has used so far

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# wrk drives the load: installed from Debian when missing (a clean machine has none).
bench_ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return
    echo "bench: installing wrk from Debian" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2 || {
        apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2
    }
}

bench_build() {
    if [[ -n "${TALON_BENCH_BIN:-}" ]]; then
        BIN="$TALON_BENCH_BIN"
        echo "bench: using $BIN" >&2
        return
    fi
    # Built for this machine's CPU (the field arithmetic of Ed25519 gains from BMI2/ADX), in a target
    # directory of its own so that the ordinary build cache is left alone.
    echo "bench: building the release binary for this CPU" >&2
    RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR="$ROOT/target/bench" \
        cargo build --release --quiet --bin talon --manifest-path "$ROOT/Cargo.toml"
    BIN="$ROOT/target/bench/release/talon"
}

bench_start_server() {
    WORK="$(mktemp -d)"
    SERVER_PID=""
    trap bench_cleanup EXIT
    RUST_LOG=warn,talon=info "$BIN" serve --listen 127.0.0.1:0 --database "sqlite://$WORK/bench.db" --demo-hosts 100 \
        --oauth2-rate 100000000 --api-rate 100000000 --auth-failure-rate 100000000 --bad-token-rate 100000000 \
        >"$WORK/stdout" 2>"$WORK/stderr" &
    SERVER_PID=$!

    # The listening address is in the log; the admin's credentials on stdout.
    for _ in $(seq 1 200); do
        grep -q "address=" "$WORK/stderr" 2>/dev/null && grep -q "client_secret:" "$WORK/stdout" 2>/dev/null && break
        sleep 0.05
    done
    BASE="$(grep -o 'address=http://[0-9.:]*' "$WORK/stderr" | head -1 | cut -d= -f2)"
    [ -n "$BASE" ] || { echo "bench: the server did not start" >&2; cat "$WORK/stderr" >&2; exit 1; }
    # A client as an integration would have one: a single scope (the first admin holds every scope, which
    # makes its tokens several times larger than usual).
    local client_json
    client_json="$("$BIN" clients --database "sqlite://$WORK/bench.db" create --name bench --scope devices:read --json)"
    ID="$(printf '%s' "$client_json" | sed 's/.*"client_id":"\([0-9a-f]*\)".*/\1/')"
    SECRET="$(printf '%s' "$client_json" | sed 's/.*"client_secret":"\([A-Za-z0-9]*\)".*/\1/')"
    # The server picks up the new client within its refresh interval.
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null -X POST "$BASE/oauth2/token" -d "client_id=$ID&client_secret=$SECRET" && return 0
        sleep 0.05
    done
    echo "bench: the new client never got a token" >&2
    exit 1
}

bench_cleanup() {
    [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    rm -rf "${WORK:-/nonexistent}"
}

server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
