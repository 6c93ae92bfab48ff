#!/usr/bin/env bash
# bench/sdk_vs_falconpy.sh: Talon's Rust SDK against FalconPy, the same server, the same calls, one run.
#
# Builds the release server and the SDK's driver (crates/sdk/benches/calls.rs), makes the FalconPy venv
# (scripts/python-env.sh), starts `talon serve` on loopback (bench/lib.sh), and has each client make:
#   1. CALLS sequential authenticated calls of QueryDevicesByFilter (a page of 100 device IDs);
#   2. CALLS calls from WORKERS concurrent workers (SDK: tasks on clones of one client; FalconPy: threads
#      sharing one Hosts object).
# Each client fetches its token before the timed part. The two clients run one after the other, each
# mode ROUNDS times interleaved (SDK, FalconPy, SDK, ...), and each figure is the median of its rounds.
# Prints calls/s per client and mode and the ratios SDK/FalconPy. Target: >= 10 on both.
#
# Usage: bench/sdk_vs_falconpy.sh   (CALLS=5000, WORKERS=64, ROUNDS=3)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CALLS="${CALLS:-5000}"
WORKERS="${WORKERS:-64}"
ROUNDS="${ROUNDS:-3}"
export CALLS WORKERS

PYTHON="$("$ROOT/scripts/python-env.sh")"
bench_build
echo "bench: building the SDK's driver" >&2
RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR="$ROOT/target/bench" \
    cargo bench --quiet --manifest-path "$ROOT/Cargo.toml" -p talon --bench calls --no-run
bench_start_server
export FALCON_BASE_URL="$BASE" FALCON_CLIENT_ID="$ID" FALCON_CLIENT_SECRET="$SECRET"

for round in $(seq 1 "$ROUNDS"); do
    RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR="$ROOT/target/bench" \
        cargo bench --quiet --manifest-path "$ROOT/Cargo.toml" -p talon --bench calls | tee -a "$WORK/results" >&2
    "$PYTHON" "$ROOT/bench/falconpy_calls.py" | tee -a "$WORK/results" >&2
    echo "bench: round $round done" >&2
done

median() { # client mode -> the median calls/s of its rounds
    awk -v c="$1" -v m="$2" '$1 == c && $2 == m {print $5}' "$WORK/results" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print v[int((NR + 1) / 2)] }'
}
SDK_SEQ="$(median sdk sequential)"; PY_SEQ="$(median falconpy sequential)"
SDK_CON="$(median sdk concurrent)"; PY_CON="$(median falconpy concurrent)"

printf '\nSDK vs FalconPy: median of %s rounds, %s calls of QueryDevicesByFilter each, %s workers, %s cores, loopback\n' \
    "$ROUNDS" "$CALLS" "$WORKERS" "$(nproc)"
printf '%-28s %14s %14s %8s\n' mode "talon calls/s" "FalconPy c/s" ratio
awk -v s="$SDK_SEQ" -v p="$PY_SEQ" 'BEGIN { printf "%-28s %14.1f %14.1f %8.2f\n", "sequential", s, p, s / p }'
awk -v s="$SDK_CON" -v p="$PY_CON" -v w="$WORKERS" 'BEGIN { printf "%-28s %14.1f %14.1f %8.2f\n", w " concurrent workers", s, p, s / p }'
echo "target: ratio >= 10 on both"
