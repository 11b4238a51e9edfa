#!/usr/bin/env bash
# Serving benchmark (issue 4): pmle vs `mlflow models serve`, MLServer (LightGBM runtime) and a
# plain FastAPI + uvicorn app, all serving the same LightGBM model.
#
#   bash benchmarks/serving/run.sh [--systems pmle,mlflow,mlserver,fastapi] [--duration 20]
#                                  [--warmup 3] [--connections 64] [--payloads 1,100]
#                                  [--pmle-args="..."] [--pmle-batch-args="..."]
#                                  [--pmle-nobatch-args="..."]
#                                  [--no-pmle-batching-runs] [--check-only] [--resume]
#                                  [--results DIR] [--no-report] [--allow-busy]
#
# 1. creates the peers' venvs under benchmarks/.venvs/serving-* if missing, installs wrk if
#    missing (setup_envs.sh);
# 2. builds the model once in every format (make_model.py → benchmarks/serving/work/);
# 3. per system and payload: start the server on CPU 0 → check its answers → wrk on CPU 1
#    (warm-up, then --duration s) → stop it (bench.py); raw JSON in results/raw/;
# 4. writes the report into BENCHMARKS.md (section "## Serving (issue 4)") and results/report.md.
# --check-only: start, check answers and stop each server; no load, no results, no report.
# Run it on a quiet machine: it refuses while the AutoML benchmark runs (--allow-busy overrides).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"

systems="pmle,mlflow,mlserver,fastapi"
report=1
check_only=0
allow_busy=0
results=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --systems) systems="$2"; args+=("$1" "$2"); shift 2 ;;
        --systems=*) systems="${1#*=}"; args+=("$1"); shift ;;
        --results) results="$2"; args+=("$1" "$2"); shift 2 ;;
        --results=*) results="${1#*=}"; args+=("$1"); shift ;;
        --check-only) check_only=1; report=0; args+=("$1"); shift ;;
        --no-report) report=0; shift ;;
        --allow-busy) allow_busy=1; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

[ -x "$PY" ] || { echo "no repo venv at $PY (create it and pip install -e .)" >&2; exit 1; }

if [ "$check_only" = 0 ] && [ "$allow_busy" = 0 ]; then
    if pgrep -f 'benchmarks/automl/' >/dev/null; then
        echo "[run] the AutoML benchmark is running: wait for it (or pass --allow-busy)" >&2
        exit 3
    fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
        echo "[run] warning: load average $load; the numbers want a quiet machine" >&2
    fi
fi

# 1. venvs + wrk (each only once)
peers=()
IFS=',' read -ra sys_list <<< "$systems"
for s in "${sys_list[@]}"; do
    case "$s" in
        pmle) ;;
        mlflow|mlserver|fastapi) peers+=("$s") ;;
        *) echo "unknown system '$s' (pmle mlflow mlserver fastapi)" >&2; exit 2 ;;
    esac
done
if [ ${#peers[@]} -gt 0 ]; then
    bash "$HERE/setup_envs.sh" "${peers[@]}"
else
    bash "$HERE/setup_envs.sh" pmle  # wrk only
fi

# 2. the model in every format (reused when built)
model_peers=()
for p in "${peers[@]}"; do
    case "$p" in mlflow|fastapi) model_peers+=("$p") ;; esac
done
"$PY" "$HERE/make_model.py" --peers "$(IFS=,; echo "${model_peers[*]}")"

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
