#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, all tests (unit, doc, property, interop against
# oidc-provider, sandbox), then a short bounded fuzz pass. Usage: bash tests/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test --workspace"
cargo test --workspace
