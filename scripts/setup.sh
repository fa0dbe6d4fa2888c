#!/usr/bin/env bash
# Set up Tenken in ./.venv: Python 3.11 virtualenv with the pinned pyspark, delta-spark,
# great_expectations, pyarrow, click and pytest.  Safe to run again (fast when done).
# The Delta jars are resolved by Spark itself from Maven Central on the first run (Ivy cache).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "Tenken needs Python 3.11, found %s" % sys.version.split()[0]'
command -v java >/dev/null 2>&1 || { echo "setup: Java 17 is needed (apt-get install openjdk-17-jre-headless)" >&2; exit 2; }
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.tenken-installed
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
echo "setup: ready ($(.venv/bin/python -c 'import pyspark, delta, great_expectations as g; print("pyspark", pyspark.__version__, "great_expectations", g.__version__)'))"
