#!/usr/bin/env bash
# Monitoring benchmark (issue 5): skew/drift of the same Parquet files by pmle (DuckDB
# histograms) and by Evidently's DataDriftPreset (own venv, pandas < 3).
#
#   bash benchmarks/monitoring/run.sh [--systems pmle,evidently] [--sizes 100k,1m,10m]
#                                     [--repeats 3] [--evidently-repeats 1]
#                                     [--evidently-max-size 1m] [--timeout 1800]
#                                     [--results DIR] [--no-report] [--allow-busy]
#
# 1. creates Evidently's venv under benchmarks/.venvs/monitoring-evidently if missing
#    (setup_envs.sh);
# 2. writes the data once (make_data.py → benchmarks/monitoring/work/data/, git-ignored):
#    reference and current Parquet files of 100k, 1M and 10M rows × 20 features;
# 3. the runs, one process at a time (bench.py); raw JSON in results/raw/;
# 4. writes the report into BENCHMARKS.md (section "## Monitoring (issue 5)") and
#    results/report.md.
# Run it on a quiet machine: it refuses while the AutoML or serving benchmark runs
# (--allow-busy overrides) and warns when the load average is above 0.5.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"

systems="pmle,evidently"
sizes="100k,1m,10m"
report=1
allow_busy=0
results=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --systems) systems="$2"; args+=("$1" "$2"); shift 2 ;;
        --systems=*) systems="${1#*=}"; args+=("$1"); shift ;;
        --sizes) sizes="$2"; args+=("$1" "$2"); shift 2 ;;
        --sizes=*) sizes="${1#*=}"; args+=("$1"); shift ;;
        --results) results="$2"; args+=("$1" "$2"); shift 2 ;;
        --results=*) results="${1#*=}"; args+=("$1"); shift ;;
        --no-report) report=0; shift ;;
        --allow-busy) allow_busy=1; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

[ -x "$PY" ] || { echo "no repo venv at $PY (create it and pip install -e .)" >&2; exit 1; }

if [ "$allow_busy" = 0 ]; then
    if pgrep -f 'benchmarks/(automl|serving)/' >/dev/null; then
        echo "[run] another benchmark is running: wait for it (or pass --allow-busy)" >&2
        exit 3
    fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
        echo "[run] warning: load average $load; the numbers want a quiet machine" >&2
    fi
fi

# 1. Evidently's venv (once)
case ",$systems," in
    *,evidently,*) bash "$HERE/setup_envs.sh" evidently ;;
esac

# 2. the data (kept when already written)
"$PY" "$HERE/make_data.py" --sizes "$sizes"

# 3. the runs
start=$(date +%s)
rc=0
"$PY" "$HERE/bench.py" "${args[@]}" || rc=$?
echo "[run] all runs took $(( $(date +%s) - start )) s"

# 4. report
if [ "$report" = 1 ]; then
    if [ -n "$results" ]; then
        "$PY" "$HERE/report.py" --results "$results"
    else
        "$PY" "$HERE/report.py"
    fi
fi
exit $rc
