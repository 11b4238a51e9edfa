"""`pmle features …` from the command line: plan, apply, list, show, training-set,
materialize, get, freshness, and deploying with --features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()

DEFS = """
entities:
  - name: customer
    join_keys: [customer_id]
feature_views:
  - name: cust
    entities: [customer]
    source: {dataset: tx}
    timestamp: event_ts
    ttl: 3d
    features:
      - {name: spend, dtype: float64}
"""


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["-w", str(ws.root), *args], env={"COLUMNS": "200"})


def test_the_feature_store_from_the_command_line(ws: Workspace, tmp_path: Path) -> None:
    ws.datasets.import_(
        "tx",
        pd.DataFrame(
            {
                "customer_id": [1, 1, 2],
                "event_ts": pd.to_datetime(["2026-01-01", "2026-01-05", "2026-01-02"]),
                "spend": [1.0, 2.0, 3.0],
            }
        ),
    )
    defs = tmp_path / "features.yaml"
    defs.write_text(DEFS)
    planned = _run(ws, "features", "plan", str(defs))
    assert planned.exit_code == 0, planned.output
    assert "+ feature view cust (create)" in planned.output and "2 to create" in planned.output
    assert _run(ws, "features", "apply", str(defs)).exit_code == 0
    again = _run(ws, "features", "apply", str(defs))
    assert "nothing to change" in again.output
    listed = json.loads(_run(ws, "features", "list", "--json").output)
    assert [v["name"] for v in listed["views"]] == ["cust"]
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"customer_id": [1, 2], "event_timestamp": ["2026-01-06", "2026-01-03"]}).to_csv(
        rows, index=False
    )
    out = tmp_path / "train.parquet"
    made = _run(ws, "features", "training-set", "-e", str(rows), "-f", "cust", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert pd.read_parquet(out)["spend"].tolist() == [2.0, 3.0]
    registered = _run(
        ws, "features", "training-set", "-e", str(rows), "-f", "cust:spend", "--register", "t"
    )
    assert registered.exit_code == 0 and ws.datasets.get("t").num_rows == 2
    done = _run(ws, "features", "materialize", "--end", "2026-01-06", "--json")
    assert json.loads(done.output)[0]["rows"] == 2
    got = json.loads(_run(ws, "features", "get", "cust", "-k", "customer_id=2", "--json").output)
    assert got == [{"customer_id": "2", "spend": None}]  # older than the 3-day ttl by now
    fresh = json.loads(_run(ws, "features", "freshness", "--json").output)
    assert fresh[0]["online_entities"] == 2 and fresh[0]["lag_s"] == 0
    exported = tmp_path / "values.csv"
    dumped = _run(ws, "features", "export", "cust", "--end", "2026-01-04", "--out", str(exported))
    assert dumped.exit_code == 0, dumped.output
    assert pd.read_csv(exported)["spend"].tolist() == [1.0, 3.0]
    snap = _run(
        ws, "features", "export", "cust", "--latest", "--end", "2026-01-06", "--register", "snap"
    )
    # customer 2's newest value (01-02) is older than the 3-day ttl at 01-06
    assert snap.exit_code == 0 and ws.datasets.to_pandas("snap")["customer_id"].tolist() == [1]
    shown = _run(ws, "features", "show", "cust")
    assert "version 1 of 1" in shown.output and "ttl: 3d" in shown.output
    bad = _run(ws, "features", "training-set", "-e", str(rows), "-f", "cust:nope", "--out", "x.csv")
    assert bad.exit_code == 2 and "has no feature 'nope'" in bad.output
    nowhere = _run(ws, "features", "training-set", "-e", str(rows), "-f", "cust")
    assert nowhere.exit_code == 2 and "--register NAME or --out FILE" in nowhere.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEFS.replace("event_ts", "when"))
    refused = _run(ws, "features", "plan", str(broken))
    assert refused.exit_code == 2 and "lacks timestamp column 'when'" in refused.output
