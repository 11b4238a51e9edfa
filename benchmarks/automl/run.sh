#!/usr/bin/env bash
# AutoML benchmark (issue 3): pmle vs FLAML, AutoGluon medium/best, plain LightGBM.
#
#   bash benchmarks/automl/run.sh [--budgets 60,300] [--datasets a,b,...] [--systems x,y,...]
#                                 [--resume] [--results DIR] [--no-report]
#
# 1. creates the peers' venvs under benchmarks/.venvs/ if missing (setup_envs.sh);
# 2. prepares the data once (benchmarks/automl/data/, seeded 80/20 splits as Parquet);
# 3. runs every (budget, dataset, system) in its own process, one after another, each killed
#    after budget x 3 + 120 s (a failure); raw JSON per run in benchmarks/automl/results/raw/;
# 4. writes the report into BENCHMARKS.md (section "## AutoML (issue 3)") and results/report.md.
#
# Datasets: wa_churn credit_data lending_club attrition hpc_data ames diamonds deliveries
# Systems:  pmle flaml ag_medium ag_best lightgbm
# Run it on a quiet machine: the systems get n_jobs = 2 and any other load distorts them.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"

systems="pmle,flaml,ag_medium,ag_best,lightgbm"
report=1
results=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --systems) systems="$2"; args+=("$1" "$2"); shift 2 ;;
        --systems=*) systems="${1#*=}"; args+=("$1"); shift ;;
        --results) results="$2"; args+=("$1" "$2"); shift 2 ;;
        --results=*) results="${1#*=}"; args+=("$1"); shift ;;
        --no-report) report=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

[ -x "$PY" ] || { echo "no repo venv at $PY (create it and pip install -e '.[bench]')" >&2; exit 1; }

# 1. venvs (each only once)
envs=()
IFS=',' read -ra sys_list <<< "$systems"
for s in "${sys_list[@]}"; do
    case "$s" in
        pmle|lightgbm) envs+=(pmle) ;;
        flaml) envs+=(flaml) ;;
        ag_medium|ag_best) envs+=(autogluon) ;;
        *) echo "unknown system '$s' (pmle flaml ag_medium ag_best lightgbm)" >&2; exit 2 ;;
    esac
done
mapfile -t envs < <(printf '%s\n' "${envs[@]}" | sort -u)
bash "$HERE/setup_envs.sh" "${envs[@]}"

# 2 + 3. data and runs
start=$(date +%s)
"$PY" "$HERE/bench.py" "${args[@]}"
echo "[run] all runs took $(( $(date +%s) - start )) s"

# 4. report
if [ "$report" = 1 ]; then
    if [ -n "$results" ]; then
        "$PY" "$HERE/report.py" --results "$results"
    else
        "$PY" "$HERE/report.py"
    fi
fi
