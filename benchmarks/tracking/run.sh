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
HELP_LINES="2,14p"
# shellcheck source=../run_common.sh
source "$HERE/../run_common.sh"

bench_args "$@"
bench_checks
bench_run
bench_report --only-if-ok
exit $rc
