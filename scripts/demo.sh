#!/usr/bin/env bash
# One command: set up, generate a 20,000-resident sample with all 29 categories,
# reconcile it in local mode, and score the run against the sample's answer key.
#   scripts/demo.sh [RESIDENTS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
N=${1:-20000}
SEED=${2:-7}
# a throw-away token key of 64 hex characters (the key must hold at least 32 bytes)
export TENKEN_TOKEN_KEY=${TENKEN_TOKEN_KEY:-$(od -An -N32 -tx1 /dev/urandom | tr -d " \n")}
DATA=sample/residents-$N-seed-$SEED
if [ ! -f "$DATA/meta.json" ]; then
  .venv/bin/tenken generate --output "$DATA" --residents "$N" --seed "$SEED"
fi
.venv/bin/tenken reconcile --input "$DATA" --output out --run-id "demo-$N-$SEED"
.venv/bin/tenken evaluate --data "$DATA" --output out --run-id "demo-$N-$SEED"
echo "outputs: out/suspects out/runs out/quarantine (Delta tables); see README 'Reading the outputs'"
