#!/usr/bin/env bash
# Pipelines benchmark (issue 6): the same kfp.dsl pipelines (pipelines.py: a chain of 20 trivial
# steps, a ParallelFor fan-out of 50 + a Collected sum) on pmle and on kfp.local
# (SubprocessRunner, use_venv=False, in kfp's own venv).
#
#   bash benchmarks/pipelines/run.sh [--systems pmle,kfp] [--pipelines chain20,fanout50]
#                                    [--results DIR] [--no-report]
#
# 1. creates benchmarks/.venvs/pipelines-kfp (kfp==2.17.3) if missing (setup_envs.sh);
# 2. per system and pipeline: a first run, then a fully cached rerun, each in a fresh process
#    (bench.py); raw JSON in results/raw/;
# 3. writes results/report.md and the section "## Pipelines (issue 6)" of BENCHMARKS.md.
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
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

[ -x "$PY" ] || { echo "no repo venv at $PY (create it and pip install -e .)" >&2; exit 1; }
load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "[run] warning: load average $load; the numbers want a quiet machine" >&2
fi

bash "$HERE/setup_envs.sh"

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
