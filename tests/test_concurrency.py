"""Several processes working on one workspace at once lose nothing and never fail on a lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pmle.workspace import Workspace

WORKER = r"""
import sys
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
import pmle

worker, rounds = int(sys.argv[2]), int(sys.argv[3])
ws = pmle.open_workspace(sys.argv[1])
rng = np.random.default_rng(worker)
for r in range(rounds):
    df = pd.DataFrame({"x": rng.normal(size=200), "worker": worker, "round": r})
    df["y"] = (df["x"] > 0).astype(int)
    ws.datasets.import_("shared", df)                      # one dataset, many writers
    ws.datasets.import_(f"own_{worker}", df)
    ws.datasets.import_sql(f"sql_{worker}", f"SELECT * FROM own_{worker} WHERE x > 0")
    model = LogisticRegression().fit(df[["x"]], df["y"])
    ws.models.register("shared_model", model, input_example=df[["x"]].head())
print("ok", worker)
"""


@pytest.mark.slow
def test_four_processes_import_and_register_at_once(ws: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    workers, rounds = 4, 3
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(ws.root), str(w), str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err.lower()
        assert out.startswith("ok")

    total = workers * rounds
    shared = ws.datasets.versions("shared")
    assert [v.version for v in shared] == list(range(1, total + 1))
    assert len({v.content_hash for v in shared}) == total
    for w in range(workers):
        assert len(ws.datasets.versions(f"own_{w}")) == rounds
        assert len(ws.datasets.versions(f"sql_{w}")) == rounds
    versions = ws.models.versions("shared_model")
    assert [v.version for v in versions] == list(range(1, total + 1))
    assert sum("default" in v.aliases for v in versions) == 1
    # every version's files really are in the artifact store
    for v in shared:
        assert ws.datasets.path(v).is_file()
    for mv in versions:
        assert ws.artifacts.exists(mv.tree_key)
