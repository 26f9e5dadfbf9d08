#!/usr/bin/env bash
# CI pass over every fuzz target: fuzz/ci.sh [SECONDS_PER_TARGET] (default 20).
# Builds all targets once (release, debug assertions), runs each from its seeds for the given
# time, prints one summary line per target, and fails if any target crashed.
set -uo pipefail
cd "$(dirname "$0")"

seconds=${1:-20}
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || exit 1
fi

targets=$(cargo fuzz list) || exit 1
cargo fuzz build --release --debug-assertions --sanitizer "${SANITIZER:-none}" || exit 1

logs=$(mktemp -d)
failed=()
for target in $targets; do
    log="$logs/$target.log"
    if ./run.sh "$target" "$seconds" >"$log" 2>&1; then
        status=ok
    else
        status=CRASH
        failed+=("$target")
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    printf 'fuzz %-22s %-5s %12s execs %8s exec/s\n' "$target" "$status" "${execs:-?}" "${rate:-?}"
    if [ "$status" = CRASH ]; then
        grep -A30 -m1 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | head -40
        ls "artifacts/$target/" 2>/dev/null | sed 's/^/  artifact: fuzz\/artifacts\/'"$target"'\//'
    fi
done
rm -rf "$logs"

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
