#!/usr/bin/env bash
# fuzz.sh: build the fuzz targets of fuzz/ (cargo-fuzz, libFuzzer with AddressSanitizer) and run each for a
# bounded time, one after the other; prints each target's executions per second and total executions, and
# exits non-zero when any run failed or left a crash, timeout, OOM or leak artifact.
#
#   scripts/fuzz.sh [--seconds N] [TARGET...]     # N per target: FUZZ_SECONDS, else 60; all targets
#   FUZZ_SECONDS=3600 scripts/fuzz.sh             # the long run
#   scripts/fuzz.sh --ci [TARGET...]              # CI's run: reproducible (below)
#
# --ci makes the run a function of the commit alone: a fixed seed (FUZZ_SEED, else 1), a fixed number of
# executions per target (about half a minute each here) and a fresh, empty corpus beside the committed
# seeds, so a clean clone finds exactly what the same command found before the commit was submitted.
# The open-ended search (time-bounded, unseeded, growing fuzz/corpus) is the plain mode.
#
# cargo-fuzz is installed when missing, pinned, under target/tools (so a fresh clone installs it itself).
# The toolchain is stable: cargo-fuzz passes `-Z` flags (`-Zsanitizer=address`), which RUSTC_BOOTSTRAP=1
# lets stable rustc take; the sanitizer runtimes ship with the stable x86-64 Linux toolchain.
# Each run starts from fuzz/corpus/<target> (grown by earlier runs, not committed) and the committed
# fuzz/seeds/<target>; a finding is written to fuzz/artifacts/<target>/, and the script prints how to
# reproduce it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_FUZZ_VERSION=0.13.2
TOOLS="$PWD/target/tools"
CARGO_FUZZ="$TOOLS/bin/cargo-fuzz"
ALL_TARGETS=(form basic jwt_verify fql admin_json)

seconds="${FUZZ_SECONDS:-60}"
ci=false
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --seconds=*) seconds="${1#--seconds=}"; shift ;;
        --ci) ci=true; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: seconds must be a whole number, not '$seconds'" >&2; exit 2 ;; esac

# Longest input per target: a little over what the server lets through there (a token form or a query
# string, a Basic header, a token of every scope, a filter, an admin body), so inputs stay realistic and
# runs fast.
max_len() {
    case "$1" in
        form) echo 8192 ;;
        basic) echo 4096 ;;
        jwt_verify) echo 12288 ;;
        fql) echo 4096 ;;
        admin_json) echo 16384 ;;
        *) echo "fuzz.sh: unknown target $1 (known: ${ALL_TARGETS[*]})" >&2; exit 2 ;;
    esac
}
for t in "${targets[@]}"; do max_len "$t" >/dev/null; done

# Executions per target in --ci mode: about 30 s each at the rates measured here (exec/s of a 30 s run:
# form ~13,000, basic ~33,000, jwt_verify ~19,000, fql ~2,400, admin_json ~17,000).
ci_runs() {
    case "$1" in
        form) echo 390000 ;;
        basic) echo 1000000 ;;
        jwt_verify) echo 570000 ;;
        fql) echo 72000 ;;
        admin_json) echo 510000 ;;
    esac
}
seed="${FUZZ_SEED:-1}"
case "$seed" in ''|*[!0-9]*) echo "fuzz.sh: FUZZ_SEED must be a whole number, not '$seed'" >&2; exit 2 ;; esac

if ! "$CARGO_FUZZ" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION under $TOOLS"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$TOOLS"
fi

export RUSTC_BOOTSTRAP=1
echo "== building the fuzz targets (cargo-fuzz $CARGO_FUZZ_VERSION, AddressSanitizer, debug assertions)"
build_start=$SECONDS
"$CARGO_FUZZ" build --fuzz-dir fuzz
echo "built in $((SECONDS - build_start)) s"
bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release

failed=()
summary=()
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    if $ci; then
        # A corpus of this run alone, so nothing an earlier run grew changes what this one tries.
        corpus="fuzz/target/ci-corpus/$t"
        rm -rf "$corpus"
    fi
    artifacts="fuzz/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    before=$(find "$artifacts" -type f | sort)
    log="fuzz/artifacts/$t.log"
    if $ci; then
        # The executions bound the run; the time bound is only a guard against a machine far slower
        # than this one (it ends the run early, not with a failure).
        bound=("-seed=$seed" "-runs=$(ci_runs "$t")" -max_total_time=600)
        outcome_of_run="$(ci_runs "$t") runs, seed $seed"
    else
        bound=("-max_total_time=$seconds")
        outcome_of_run="in $seconds s"
    fi
    args=(
        "${bound[@]}"
        "-max_len=$(max_len "$t")"
        # Bounds: no input may take 5 s (every target's work per input is milliseconds; libFuzzer's
        # default is 20 min), nor the process 2 GiB (libFuzzer's default, said explicitly).
        -timeout=5
        -rss_limit_mb=2048
        -print_final_stats=1
        "-artifact_prefix=$artifacts/"
    )
    [ -f "fuzz/dicts/$t.dict" ] && args+=("-dict=fuzz/dicts/$t.dict")
    seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
    echo "== $t: ${args[*]}"
    set +e
    "$bin_dir/$t" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
    status=$?
    set -e
    # The last status lines, and any report of a finding.
    grep -E '^#[0-9]+.*(DONE|INITED)|ERROR|panicked|SUMMARY|Test unit written' "$log" | tail -n 12 || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    new=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | grep -E '/(crash|timeout|oom|leak)-' || true)
    outcome="$outcome_of_run"
    if [ "$status" -ne 0 ] || [ -n "$new" ]; then
        outcome="then FAILED"
        failed+=("$t")
        echo "!! $t failed (libFuzzer exit $status); its log: $log"
        for a in $new; do
            echo "!! finding: $a; reproduce with: $bin_dir/$t $a"
        done
    fi
    summary+=("$(printf '%-11s %8s exec/s %12s executions %s' "$t" "${rate:-?}" "${runs:-?}" "$outcome")")
done

echo "== fuzzing summary"
printf '%s\n' "${summary[@]}"
# The closing line in the form test runners print, so that CI's log reads as a result.
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found problems in: ${failed[*]}" >&2
    exit 1
fi
