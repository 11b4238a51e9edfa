#!/usr/bin/env bash
# SQL models benchmark (issue 7): CREATE MODEL on a 1M-row warehouse table against training the
# same model directly on the same data already in memory (scikit-learn / LightGBM), one process.
#
#   bash benchmarks/sqlml/run.sh [--rows N] [--models logistic_reg,linear_reg,boosted_tree_classifier]
#                                [--reps 2] [--results DIR] [--no-profile] [--no-report]
#
# 1. bench.py: makes the table (the shipped churn rows resampled with jitter, deterministic),
#    imports it as a dataset, times both sides per model type; raw JSON in results/raw/;
# 2. report.py: results/report.md and the section "## SQL models (issue 7)" of BENCHMARKS.md.
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
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
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

if [ "$report" = 1 ]; then
    if [ -n "$results" ]; then
        "$PY" "$HERE/report.py" --results "$results"
    else
        "$PY" "$HERE/report.py"
    fi
fi
exit $rc
