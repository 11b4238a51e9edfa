#!/usr/bin/env bash
# Create kfp's virtual environment for the pipelines benchmark (once) under
# benchmarks/.venvs/pipelines-kfp, with envs/kfp.txt (kfp==2.17.3 only).
#   bash benchmarks/pipelines/setup_envs.sh
# The venv is reused when its marker bench-env.json exists and envs/kfp.txt has not changed
# since; delete the folder to force a rebuild. pmle runs from the repo's own venv (.venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENVS="$ROOT/benchmarks/.venvs"
PMLE_PY="${PMLE_PYTHON:-$ROOT/.venv/bin/python}"
BASE_PY="${PYTHON:-$("$PMLE_PY" -c 'import sys; print(sys._base_executable)')}"

pip_q() {
    "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
    return "${PIPESTATUS[0]}"
}

req="$HERE/envs/kfp.txt" dir="$VENVS/pipelines-kfp"
sum="$(sha256sum "$req" | cut -c1-16)"
if [ -f "$dir/bench-env.json" ] && grep -q "\"req_sha\": \"$sum\"" "$dir/bench-env.json"; then
    echo "[setup] pipelines-kfp: reusing $dir"
    exit 0
fi
echo "[setup] pipelines-kfp: creating $dir with $BASE_PY"
rm -rf "$dir"
mkdir -p "$VENVS"
t0=$(date +%s)
"$BASE_PY" -m venv "$dir"
pip_q "$dir/bin/python" -m pip install -q -r "$req"
t1=$(date +%s)
"$dir/bin/python" -m pip check || echo "[setup] pipelines-kfp: pip check reported problems"
du=$(du -sm "$dir" | cut -f1)
"$dir/bin/python" - "$dir/bench-env.json" "$sum" "$((t1 - t0))" "$du" <<'PY'
import json, subprocess, sys
path, sha, secs, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
freeze = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True).stdout.split()
json.dump({"req_sha": sha, "install_seconds": secs, "disk_mb": mb,
           "python": sys.version.split()[0], "packages": freeze}, open(path, "w"), indent=1)
PY
echo "[setup] pipelines-kfp: installed in $((t1 - t0)) s, ${du} MB"
