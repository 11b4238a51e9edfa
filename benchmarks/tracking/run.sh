#!/usr/bin/env bash
# Experiment tracking benchmark (issue 8): pmle's tracking against MLflow's tracking on a SQLite
# store, the same 10,000 runs × 20 metrics logged and queried on both sides.
#
#   bash benchmarks/tracking/run.sh [--runs 10000] [--mlflow-runs N] [--single-runs 500]
#                                   [--reps 7] [--profile 1000] [--sides pmle,mlflow]
#                                   [--results DIR] [--no-report]
#
# 1. bench.py: pmle_side.py (pmle's venv), then mlflow_side.py (benchmarks/.venvs/serving-mlflow,
#    created by benchmarks/serving/setup_envs.sh mlflow), each in its own process and temporary
#    folder; checks both found the same runs; raw JSON in results/raw/;
# 2. report.py: results/report.md and the section "## Experiment tracking (issue 8)" of
#    BENCHMARKS.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"

report=1
results=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --results) results="$2"; args+=("$1" "$2"); shift 2 ;;
        --results=*) results="${1#*=}"; args+=("$1"); shift ;;
        --no-report) report=0; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

[ -x "$PY" ] || { echo "no repo venv at $PY (create it and pip install -e .)" >&2; exit 1; }
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "[run] warning: load average $load; the numbers want a quiet machine" >&2
fi

start=$(date +%s)
rc=0
"$PY" "$HERE/bench.py" "${args[@]}" || rc=$?
echo "[run] all runs took $(( $(date +%s) - start )) s"

if [ "$report" = 1 ] && [ "$rc" = 0 ]; then
    if [ -n "$results" ]; then
        "$PY" "$HERE/report.py" --results "$results"
    else
        "$PY" "$HERE/report.py"
    fi
fi
exit $rc
