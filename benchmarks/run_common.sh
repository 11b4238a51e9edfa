# Sourced by a benchmark's run.sh (which sets HERE and HELP_LINES first): the shared command
# line (--results DIR, --no-report, -h; everything else goes to bench.py), the venv check, the
# load warning, and running bench.py then report.py.
#
#   bench_args "$@"; bench_checks; bench_run; bench_report [--only-if-ok]

ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"
report=1
results=""
args=()
rc=0

bench_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --results) results="$2"; args+=("$1" "$2"); shift 2 ;;
            --results=*) results="${1#*=}"; args+=("$1"); shift ;;
            --no-report) report=0; shift ;;
            -h|--help) sed -n "$HELP_LINES" "$0"; exit 0 ;;
            *) args+=("$1"); shift ;;
        esac
    done
}

bench_checks() {
    [ -x "$PY" ] || { echo "no repo venv at $PY (create it and pip install -e .)" >&2; exit 1; }
    local load
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
        echo "[run] warning: load average $load; the numbers want a quiet machine" >&2
    fi
}

bench_run() {
    local start
    start=$(date +%s)
    "$PY" "$HERE/bench.py" "${args[@]}" || rc=$?
    echo "[run] all runs took $(( $(date +%s) - start )) s"
}

# --only-if-ok: no report after a failed bench.py
bench_report() {
    if [ "$report" != 1 ] || { [ "${1:-}" = "--only-if-ok" ] && [ "$rc" != 0 ]; }; then
        return 0
    fi
    if [ -n "$results" ]; then
        "$PY" "$HERE/report.py" --results "$results"
    else
        "$PY" "$HERE/report.py"
    fi
}
