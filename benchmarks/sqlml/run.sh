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
HELP_LINES="2,11p"
# shellcheck source=../run_common.sh
source "$HERE/../run_common.sh"

bench_args "$@"
bench_checks
bench_run
bench_report
exit $rc
