#!/usr/bin/env bash
# Everything CI runs, in order: formatting, lints (both crypto backends), docs, all tests (unit, doc,
# property, transport scenarios, sandbox, interop against oidc-provider), the quickstart and the
# client examples, a packaging dry run, and a short bounded fuzz pass over every parser.
#
#   bash tests/run-all.sh
#
# Needs: the Rust toolchain, a C compiler (aws-lc-rs), Node.js >= 20.18 with npm (the interop
# suite runs `npm ci` in tests/interop/server by itself), Chromium with chromedriver for the
# web app's browser tests and redis-server for the safire-redis tests (both installed below
# with apt-get when missing). Environment knobs:
#   SAFIRE_SKIP_INTEROP=1   skip the oidc-provider interop tests (they print "skipped: ...")
#   SAFIRE_FUZZ_SECONDS=N   seconds per fuzz target (default 20; 0 skips the fuzz pass)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

if [ "${SAFIRE_SKIP_INTEROP:-0}" != 1 ] && ! command -v node >/dev/null 2>&1; then
    echo "Node.js >= 20.18 and npm are needed for the interop suite (tests/interop)." >&2
    echo "Install them (e.g. 'apt-get install nodejs npm' or https://nodejs.org), or set SAFIRE_SKIP_INTEROP=1." >&2
    exit 1
fi

# The web app's browser tests (examples/smart-app/tests) drive a real headless Chromium.
step "Chromium and chromedriver (browser tests)"
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    if ! (apt-get update && apt-get install -y chromium chromium-driver); then
        echo "Cannot install Chromium and chromedriver, which the browser tests need." >&2
        echo "Install them by hand: apt-get update && apt-get install -y chromium chromium-driver" >&2
        exit 1
    fi
fi
chromedriver --version

# safire-redis's tests start their own redis-server (Debian package) on a free loopback port.
if ! command -v redis-server >/dev/null 2>&1; then
    step "installing redis-server (needed by the safire-redis tests)"
    (apt-get update && apt-get install -y redis-server) || true
fi
if ! command -v redis-server >/dev/null 2>&1; then
    echo "*** redis-server is missing and could not be installed; the safire-redis tests need it." >&2
    echo "*** Install it (e.g. 'apt-get install -y redis-server') and run this script again." >&2
    exit 1
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings (default and aws-lc backends)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p safire-core --all-targets --features aws-lc -- -D warnings

step "cargo doc --workspace --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

# The bench crate turns on safire-core's aws-lc feature; leaving it out keeps the default
# (pure Rust) backend under every other crate's tests. It is compiled by clippy above.
step "cargo test --workspace (default RustCrypto backend)"
cargo test --workspace --exclude safire-benches

step "cargo test -p safire-core --features aws-lc (same vectors, fast backend)"
cargo test -p safire-core --features aws-lc

step "cargo test -p safire-benches --lib, --doc (the paired-sample harness, not the benchmarks)"
cargo test -p safire-benches --lib
cargo test -p safire-benches --doc

step "cargo run --example quickstart"
cargo run --quiet --example quickstart > target/quickstart.log
tail -n 3 target/quickstart.log

step "client examples against the sandbox (backend services, standalone launch; both transports)"
# (safire-hyper's are named *_async: two examples of one name in a workspace collide in target/.)
for example in safire-ureq:backend_services safire-ureq:standalone_launch \
    safire-hyper:backend_services_async safire-hyper:standalone_launch_async; do
    echo "-- ${example%%:*} ${example#*:}"
    cargo run --quiet -p "${example%%:*}" --example "${example#*:}"
done

# The published crates package together: the others depend on safire-core (and safire-cli on
# safire-ureq) by path + version, which only resolves when it is packaged in the same run.
# --offline and --no-verify keep this to a second (no index, no rebuild of the packages).
step "cargo package (dry run) of the published crates"
published=(-p safire-core -p safire-ureq -p safire-hyper -p safire-sandbox -p safire-cli)
for crate in safire-core safire-ureq safire-hyper safire-sandbox safire-cli; do
    files=$(cargo package --quiet -p "$crate" --list --allow-dirty)
    grep -qx README.md <<<"$files" || { echo "$crate: no README.md in the package" >&2; exit 1; }
done
cargo package --quiet --offline --no-verify --allow-dirty "${published[@]}"

fuzz_seconds=${SAFIRE_FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" != 0 ]; then
    step "fuzz pass: ${fuzz_seconds}s per target"
    bash fuzz/ci.sh "$fuzz_seconds"
fi

step "all checks passed"
