#!/usr/bin/env bash
# One command: set up, then run the test suite against a real local Spark with Delta.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the report test renders the HTML page in Debian's headless Chromium
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "test: could not install chromium; the report rendering test will be skipped" >&2
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
