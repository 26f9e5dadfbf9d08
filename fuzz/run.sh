#!/usr/bin/env bash
# Runs one fuzz target for a while: fuzz/run.sh TARGET SECONDS [extra libFuzzer args...]
# Exits non-zero when the target crashes (the input is saved under fuzz/artifacts/TARGET/).
set -euo pipefail
cd "$(dirname "$0")"

target=${1:?usage: run.sh TARGET SECONDS [libFuzzer args...]}
seconds=${2:?usage: run.sh TARGET SECONDS [libFuzzer args...]}
shift 2

export RUSTC_BOOTSTRAP=1 # cargo-fuzz needs nightly flags; the toolchain is stable
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Longest input per target: JSON bodies get room for realistic documents; URLs less.
case "$target" in
    discovery | token_response | registration_response | introspection | registration_management) max_len=65536 ;;
    oauth_error) max_len=16384 ;;
    private_key) max_len=16384 ;;
    callback | ehr_launch | redirect) max_len=4096 ;;
    *) max_len=65536 ;;
esac

mkdir -p "corpus/$target" "seeds/$target"
cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
# Past crashes join the initial corpus on every run (libFuzzer adds new inputs to the first
# directory only, so seeds and regressions stay untouched).
dirs=("corpus/$target" "seeds/$target")
if [ -d "regressions/$target" ]; then dirs+=("regressions/$target"); fi

# safire-core forbids unsafe code, so the sanitizer mostly costs speed; SANITIZER=address to
# turn it on. Same flags as ci.sh so the two share one build.
exec cargo fuzz run --release --debug-assertions --sanitizer "${SANITIZER:-none}" \
    "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 "$@"
