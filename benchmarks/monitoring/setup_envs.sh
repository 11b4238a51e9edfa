#!/usr/bin/env bash
# Create the monitoring peer's virtual environment (once) under
# benchmarks/.venvs/monitoring-evidently.
#   bash benchmarks/monitoring/setup_envs.sh [evidently]
# A venv is reused when its marker file bench-env.json exists and its requirements file
# (envs/evidently.txt) has not changed since; delete the folder to force a rebuild.
# pmle runs from the repo's own venv (.venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENVS="$ROOT/benchmarks/.venvs"
PMLE_PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"
# Interpreter for the peer venv: the same CPython as the repo's venv unless PYTHON is set.
BASE_PY="${PYTHON:-$("$PMLE_PY" -c 'import sys; print(sys._base_executable)')}"

envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(evidently)

# pip, minus the warnings about this machine's unused local index folders
pip_q() {
    "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}

setup_venv() {  # $1 = peer (evidently)
    local name="$1" req="$HERE/envs/$1.txt" dir="$VENVS/monitoring-$1"
    local sum
    sum="$(sha256sum "$req" | cut -c1-16)"
    if [ -f "$dir/bench-env.json" ] && grep -q "\"req_sha\": \"$sum\"" "$dir/bench-env.json"; then
        echo "[setup] monitoring-$name: reusing $dir"
        return 0
    fi
    echo "[setup] monitoring-$name: creating $dir with $BASE_PY (this takes minutes)"
    rm -rf "$dir"
    mkdir -p "$VENVS"
    local t0 t1
    t0=$(date +%s)
    "$BASE_PY" -m venv "$dir"
    pip_q "$dir/bin/python" -m pip install -q --upgrade pip
    pip_q "$dir/bin/python" -m pip install -q -r "$req"
    t1=$(date +%s)
    "$dir/bin/python" -m pip check || echo "[setup] monitoring-$name: pip check reported problems (see above)"
    local du
    du=$(du -sm "$dir" | cut -f1)
    "$dir/bin/python" - "$dir/bench-env.json" "$sum" "$((t1 - t0))" "$du" <<'PY'
import json, subprocess, sys
path, sha, secs, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()
json.dump({"req_sha": sha, "install_seconds": secs, "disk_mb": mb,
           "python": sys.version.split()[0], "packages": freeze}, open(path, "w"), indent=1)
PY
    echo "[setup] monitoring-$name: installed in $((t1 - t0)) s, ${du} MB"
}

for e in "${envs[@]}"; do
    case "$e" in
        pmle) ;;  # the repo venv
        evidently) setup_venv "$e" ;;
        *) echo "[setup] unknown env '$e' (evidently)" >&2; exit 2 ;;
    esac
done
