#!/usr/bin/env bash
# Web console benchmark (issue 11): every console page of a workspace holding 1,000 runs,
# 100 models and 50 pipeline runs, loaded in Debian's chromium from a real `pmle serve`, and
# MLflow's UI (benchmarks/.venvs/serving-mlflow, made by benchmarks/serving/setup_envs.sh
# mlflow) for the pages it has over the same runs and models.
#
#   bash benchmarks/console/run.sh [--reps 7] [--sides pmle,mlflow] [--work DIR]
#                                  [--results DIR] [--no-report]
#
# 1. bench.py: builds both stores once (work/, git-ignored), starts both servers, measures
#    with Playwright; raw JSON in results/raw.json;
# 2. report.py: results/report.md and the section "## Web console (issue 11)" of BENCHMARKS.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELP_LINES="2,12p"
# shellcheck source=../run_common.sh
source "$HERE/../run_common.sh"

bench_args "$@"
bench_checks
bench_run
bench_report --only-if-ok
exit $rc
