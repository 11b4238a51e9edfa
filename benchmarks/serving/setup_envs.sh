#!/usr/bin/env bash
# Create the serving peers' virtual environments (once) under benchmarks/.venvs/serving-<peer>,
# and install wrk if it is missing.
#   bash benchmarks/serving/setup_envs.sh [mlflow] [mlserver] [fastapi]
# With no argument: all of them. A venv is reused when its marker file bench-env.json exists
# and its requirements file (envs/<peer>.txt) has not changed since; delete the folder to force a
# rebuild. pmle runs from the repo's own venv (.venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENVS="$ROOT/benchmarks/.venvs"
PMLE_PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"
# Interpreter for the peer venvs: the same CPython as the repo's venv unless PYTHON is set.
BASE_PY="${PYTHON:-$("$PMLE_PY" -c 'import sys; print(sys._base_executable)')}"

envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(mlflow mlserver fastapi)

# pip, minus the warnings about this machine's unused local index folders
pip_q() {
    "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}

setup_wrk() {
    command -v wrk >/dev/null && return 0
    echo "[setup] installing wrk (apt-get)"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq wrk
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq wrk
    fi
    command -v wrk >/dev/null || { echo "[setup] wrk is still missing" >&2; exit 1; }
}

setup_venv() {  # $1 = peer (mlflow | mlserver | fastapi)
    local name="$1" req="$HERE/envs/$1.txt" dir="$VENVS/serving-$1"
    local sum
    sum="$(sha256sum "$req" | cut -c1-16)"
    if [ -f "$dir/bench-env.json" ] && grep -q "\"req_sha\": \"$sum\"" "$dir/bench-env.json"; then
        echo "[setup] serving-$name: reusing $dir"
        return 0
    fi
    echo "[setup] serving-$name: creating $dir with $BASE_PY (this takes minutes)"
    rm -rf "$dir"
    mkdir -p "$VENVS"
    local t0 t1
    t0=$(date +%s)
    "$BASE_PY" -m venv "$dir"
    pip_q "$dir/bin/python" -m pip install -q --upgrade pip
    pip_q "$dir/bin/python" -m pip install -q -r "$req"
    t1=$(date +%s)
    "$dir/bin/python" -m pip check || echo "[setup] serving-$name: pip check reported problems (see above)"
    local du
    du=$(du -sm "$dir" | cut -f1)
    "$dir/bin/python" - "$dir/bench-env.json" "$sum" "$((t1 - t0))" "$du" <<'PY'
import json, subprocess, sys
path, sha, secs, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()
json.dump({"req_sha": sha, "install_seconds": secs, "disk_mb": mb,
           "python": sys.version.split()[0], "packages": freeze}, open(path, "w"), indent=1)
PY
    echo "[setup] serving-$name: installed in $((t1 - t0)) s, ${du} MB"
}

setup_wrk
for e in "${envs[@]}"; do
    case "$e" in
        pmle) ;;  # the repo venv
        mlflow|mlserver|fastapi) setup_venv "$e" ;;
        *) echo "[setup] unknown env '$e' (mlflow mlserver fastapi)" >&2; exit 2 ;;
    esac
done
