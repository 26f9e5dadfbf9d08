#!/usr/bin/env bash
# Times peer JWT libraries signing the same client assertion with the same keys as
# `cargo bench --bench signing`. Not part of CI. Writes results.jsonl beside this script.
#   bash benches/peers/run.sh            # installs pyjwt/joserfc (pip) and jose (npm) first
#   SKIP_INSTALL=1 bash benches/peers/run.sh
set -euo pipefail
cd "$(dirname "$0")"
if [[ -z "${SKIP_INSTALL:-}" ]]; then
  python3 -m pip install --quiet "pyjwt[crypto]==2.15.1" "joserfc==1.6.5" "cryptography>=44"
  npm install --silent --no-audit --no-fund
fi
{
  python3 peers.py
  node peers.mjs
} | tee results.jsonl
