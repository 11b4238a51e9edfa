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
HELP_LINES="2,13p"
# shellcheck source=../run_common.sh
source "$HERE/../run_common.sh"

bench_args "$@"
bench_checks
bash "$HERE/setup_envs.sh"

bench_run
bench_report
exit $rc
