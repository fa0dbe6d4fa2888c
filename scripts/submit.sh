#!/usr/bin/env bash
# Submit a reconciliation to a Spark cluster with spark-submit.
#
#   TENKEN_TOKEN_KEY=... scripts/submit.sh --master spark://HOST:7077 [options] -- \
#       --input INPUT --output OUTPUT [--run-id ID] [--categories a,b] [--conf FILE]
#
# Everything after `--` is passed to `tenken reconcile` (a leading `reconcile` is optional).
# Options before `--`:
#   --master URL           the cluster's master (required)
#   --checkpoint-dir DIR   reliable checkpoint folder (run.checkpoint_dir); must be storage every
#                          node sees (hdfs://, s3a://, a shared mount).  Default: a fresh folder
#                          under $TMPDIR, only right for a single-host cluster; removed afterwards.
#   --tenken-conf FILE     cluster settings (default conf/cluster.yaml); a reconcile --conf FILE
#                          is merged over it
#   --driver-memory SIZE   default 4g
#   --dry-run              print the spark-submit command and stop
#   anything else          passed to spark-submit as is (--executor-memory 8g,
#                          --total-executor-cores 64, --conf spark.x=y, ...)
#
# The token key travels only through the environment: TENKEN_TOKEN_KEY must be set in the
# environment of this script (the driver runs here, in client mode, and inherits it).  It is
# never put on a command line, in a config file or in the Spark conf.
#
# What is shipped: a staging folder holding jobs/, conf/, schemas/, expectations/ and the
# entry file (the driver runs from it), and jobs.zip (--py-files) for the executors.
# Environment: PYTHON (the Python for driver and executors; default .venv/bin/python),
# SPARK_SUBMIT (default: the one pyspark ships), TENKEN_SUBMIT_KEEP=1 keeps the staging folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
die() { echo "submit.sh: $*" >&2; exit 2; }

MASTER=""; CKPT=""; TCONF="$ROOT/conf/cluster.yaml"; DRIVER_MEM="4g"; DRY=0
SPARK_ARGS=(); APP_ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --master) [[ $# -ge 2 ]] || die "--master needs a URL"; MASTER="$2"; shift 2 ;;
    --master=*) MASTER="${1#*=}"; shift ;;
    --checkpoint-dir) [[ $# -ge 2 ]] || die "--checkpoint-dir needs a folder"; CKPT="$2"; shift 2 ;;
    --checkpoint-dir=*) CKPT="${1#*=}"; shift ;;
    --tenken-conf) [[ $# -ge 2 ]] || die "--tenken-conf needs a file"; TCONF="$2"; shift 2 ;;
    --driver-memory) [[ $# -ge 2 ]] || die "--driver-memory needs a size"; DRIVER_MEM="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; APP_ARGS=("$@"); break ;;
    *) SPARK_ARGS+=("$1"); shift ;;
  esac
done
[[ -n "$MASTER" ]] || die "--master URL is required (e.g. spark://host:7077)"
[[ ${#APP_ARGS[@]} -gt 0 ]] || die "give the reconcile arguments after --, e.g. -- --input IN --output OUT"
[[ "${APP_ARGS[0]}" == "reconcile" ]] && APP_ARGS=("${APP_ARGS[@]:1}")
[[ -f "$TCONF" ]] || die "cluster config not found: $TCONF"

# The key must come through the environment only.
if [[ -z "${TENKEN_TOKEN_KEY:-}" ]]; then
  echo "submit.sh: note: TENKEN_TOKEN_KEY is not set; the run needs it unless the config names a key file" >&2
else
  for a in "${SPARK_ARGS[@]+"${SPARK_ARGS[@]}"}" "${APP_ARGS[@]}"; do
    [[ "$a" == *"$TENKEN_TOKEN_KEY"* ]] && die "the token key must not appear on the command line; set TENKEN_TOKEN_KEY in the environment"
  done
fi

PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
SPARK_SUBMIT="${SPARK_SUBMIT:-}"
if [[ -z "$SPARK_SUBMIT" ]]; then
  PYSPARK_DIR="$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
  SPARK_SUBMIT="$PYSPARK_DIR/bin/spark-submit"
fi
[[ -x "$SPARK_SUBMIT" ]] || die "spark-submit not found: $SPARK_SUBMIT"

# ---- stage: jobs/, conf/, schemas/, expectations/, entry file, jobs.zip, generated config ----
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/tenken-submit.XXXXXX")"
OWN_CKPT=""
cleanup() {
  [[ "${TENKEN_SUBMIT_KEEP:-0}" == 1 ]] || rm -rf "$STAGE"
  [[ -n "$OWN_CKPT" ]] && rm -rf "$OWN_CKPT"
  return 0
}
trap cleanup EXIT
APP="$STAGE/app"
mkdir -p "$APP"
for d in jobs conf schemas expectations; do
  if [[ -d "$ROOT/$d" ]]; then
    (cd "$ROOT" && tar --exclude='__pycache__' --exclude='*.pyc' -cf - "$d") | (cd "$APP" && tar -xf -)
  fi
done
cp "$ROOT/jobs/submit_entry.py" "$APP/tenken_submit.py"
(cd "$APP" && "$PYTHON" - <<'EOF'
import os, zipfile
with zipfile.ZipFile("../jobs.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for top in ("jobs",):
        for dirpath, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for f in files:
                z.write(os.path.join(dirpath, f))
EOF
)

if [[ -z "$CKPT" ]]; then
  CKPT="$(mktemp -d "${TMPDIR:-/tmp}/tenken-checkpoints.XXXXXX")"
  OWN_CKPT="$CKPT"
  echo "submit.sh: note: checkpoints in $CKPT (local disk: right only for a single-host cluster; use --checkpoint-dir)" >&2
fi

# The run's config: cluster.yaml, the user's reconcile --conf FILE merged over it, and the
# checkpoint folder.  Relative *_file paths of the user's file are made absolute.
USER_CONF=""; REST=()
for ((i = 0; i < ${#APP_ARGS[@]}; i++)); do
  case "${APP_ARGS[$i]}" in
    --conf) USER_CONF="${APP_ARGS[$((i + 1))]:-}"; i=$((i + 1)) ;;
    --conf=*) USER_CONF="${APP_ARGS[$i]#*=}" ;;
    *) REST+=("${APP_ARGS[$i]}") ;;
  esac
done
RUN_CONF="$APP/conf/submit.yaml"
TCONF="$TCONF" USER_CONF="$USER_CONF" CKPT="$CKPT" RUN_CONF="$RUN_CONF" "$PYTHON" - <<'EOF'
import os, sys, yaml
sys.path.insert(0, os.path.dirname(os.path.dirname(os.environ["RUN_CONF"])))
from jobs.config import deep_merge
def load(p):
    with open(p, encoding="utf-8") as fh:
        d = yaml.safe_load(fh) or {}
    if not isinstance(d, dict):
        sys.exit(f"submit.sh: {p} must hold a mapping")
    base = os.path.dirname(os.path.abspath(p))
    for k, v in list(d.items()):
        if k.endswith("_file") and isinstance(v, str) and not os.path.isabs(v) and os.path.exists(os.path.join(base, v)):
            d[k] = os.path.join(base, v)
    return d
cfg = load(os.environ["TCONF"])
if os.environ["USER_CONF"]:
    cfg = deep_merge(cfg, load(os.environ["USER_CONF"]))
cfg = deep_merge(cfg, {"run": {"checkpoint_dir": os.environ["CKPT"]}})
with open(os.environ["RUN_CONF"], "w", encoding="utf-8") as fh:
    fh.write("# generated by scripts/submit.sh\n")
    yaml.safe_dump(cfg, fh, allow_unicode=True, sort_keys=False)
EOF

# Quiet driver logs (what the console shows): warnings from Spark, errors from the chattiest
# loggers.  Executor logs stay in the workers' work folders with the cluster's own settings.
LOG4J="$STAGE/log4j2.properties"
cat > "$LOG4J" <<'EOF'
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.nativeloader.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativeloader.level = error
logger.shutdown.name = org.apache.spark.util.ShutdownHookManager
logger.shutdown.level = error
logger.checkpoint.name = org.apache.spark.SparkContext
logger.checkpoint.level = error
logger.delta.name = org.apache.spark.sql.delta
logger.delta.level = error
logger.ivy.name = org.apache.spark.deploy
logger.ivy.level = warn
EOF

DELTA_PKG="$(cd "$APP" && "$PYTHON" -c 'from jobs.session import delta_package; print(delta_package())')"

CMD=("$SPARK_SUBMIT"
  --master "$MASTER"
  --deploy-mode client
  --name tenken
  --driver-memory "$DRIVER_MEM"
  --packages "$DELTA_PKG"
  --py-files "$STAGE/jobs.zip"
  --driver-java-options "-Dlog4j2.configurationFile=file:$LOG4J"
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog
  --conf spark.ui.showConsoleProgress=false
  --conf "spark.pyspark.python=$PYTHON"
  --conf "spark.pyspark.driver.python=$PYTHON"
  "${SPARK_ARGS[@]+"${SPARK_ARGS[@]}"}"
  "$APP/tenken_submit.py" reconcile --conf "$RUN_CONF" "${REST[@]+"${REST[@]}"}")

if [[ "$DRY" == 1 ]]; then
  printf '%q ' "${CMD[@]}"; echo
  exit 0
fi

# The driver imports jobs from the staging folder; keep any outer pyspark gateway away from it.
unset PYSPARK_GATEWAY_PORT PYSPARK_GATEWAY_SECRET
export TENKEN_CONF_DIR="$APP/conf"
set +e
# stderr without Ivy's resolution report (it comes before logging is set up)
IVY_NOISE=$'^(\t|[[:space:]]*:: |[[:space:]]*-{5,}|[[:space:]]*\\| |Ivy Default Cache|The jars for the packages|io\\.delta#|downloading |resolution report|retrieving :: |confs: )'
"${CMD[@]}" 2> >(grep --line-buffered -v -E "$IVY_NOISE" >&2)
rc=$?
set -e
wait
exit "$rc"
