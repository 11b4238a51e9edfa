#!/usr/bin/env bash
# Feature store benchmark (issue 10): point-in-time retrieval of 100k and 1M entity rows against
# 10M feature rows in one view and in 10 views (and 10k / 100k against 1M), pmle's
# `training_set` vs a raw DuckDB ASOF JOIN vs Feast's local file offline store, wall time and
# peak RSS; then online reads (p50/p99, 1 and 100 keys) and materialization throughput with
# pmle's SQLite and Redis online stores. Cases: FEATURES:ENTITIES, FEATURES = 1m, 10m (one
# view) or TOTAL/Kv (K views holding TOTAL rows: 10m/10v, 1m/10v); see README.md.
#
#   bash benchmarks/features/run.sh
#                  [--cases 1m:10k,1m:100k,10m:100k,10m:1m,10m/10v:100k,10m/10v:1m]
#                                   [--sides pmle,duckdb,duckdb_ordered,feast] [--reps 5]
#                                   [--feast-reps 1] [--feast-timeout 600] [--timeout 900]
#                                   [--mem-limit-gib 16] [--online sqlite,redis|none]
#                                   [--online-features 10m] [--calls 2000]
#                                   [--no-profile | --profile-only]
#                                   [--threads N] [--work DIR] [--results DIR] [--no-report]
#
# 1. bench.py: writes the Parquet files once (work/data, git-ignored), then runs every side in
#    its own process, one after the other: pmle_side.py and duckdb_side.py in pmle's venv,
#    feast_side.py in benchmarks/.venvs/feast; checks the answers agree; online reads with a
#    private redis-server; pmle_profile.py on the largest one-view case; raw JSON in results/raw/;
# 2. report.py: results/report.md and the section "## Feature store (issue 10)" of
#    BENCHMARKS.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELP_LINES="2,23p"
# shellcheck source=../run_common.sh
source "$HERE/../run_common.sh"

bench_args "$@"
bench_checks
bench_run
bench_report --only-if-ok
exit $rc
