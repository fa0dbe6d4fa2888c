#!/usr/bin/env bash
# One command: set up, then run the test suite against a real local Spark with Delta and GE.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
