"""Materialization into the online store: full, incremental (only rows since the last run),
resumed after a kill without redoing finished chunks; online reads with the TTL; freshness."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.workspace import Workspace

T = pd.Timestamp
DAY = 86400.0


def _events(n: int, start: str, days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 200, n),
            "ts": T(start) + pd.to_timedelta(rng.integers(0, days * 86400, n), "s"),
            "clicks": rng.integers(0, 100, n),
        }
    )


def _apply(ws: Workspace, ttl: str = "none") -> None:
    ws.features.apply(
        {
            "entities": [{"name": "user", "join_keys": ["user_id"]}],
            "feature_views": [
                {
                    "name": "activity",
                    "entities": ["user"],
                    "source": {"dataset": "events"},
                    "timestamp": "ts",
                    "ttl": ttl,
                    "features": [{"name": "clicks", "dtype": "int64"}],
                }
            ],
        }
    )


def _latest(frame: pd.DataFrame, until: float | None = None) -> dict[int, int]:
    if until is not None:
        frame = frame[frame["ts"] < pd.Timestamp(until, unit="s")]
    last = frame.sort_values("ts").groupby("user_id").tail(1)
    return dict(zip(last["user_id"].tolist(), last["clicks"].tolist(), strict=True))


def _online(ws: Workspace, users: list[int], now: float | None = None) -> dict[int, int | None]:
    rows = ws.features.online_features(
        ["activity:clicks"], [{"user_id": u} for u in users], now=now
    )
    return {r["user_id"]: r["clicks"] for r in rows}


def test_full_then_incremental_picks_up_only_new_rows(ws: Workspace) -> None:
    first = _events(5_000, "2026-01-01", 10, seed=1)
    ws.datasets.import_("events", first)
    _apply(ws)
    end = T("2026-01-11").timestamp()
    (run,) = ws.features.materialize(end=end, chunks=4)
    assert run.state == "SUCCEEDED" and run.chunks == run.done == 4
    expected = _latest(first)
    assert run.rows == len(expected)  # each entity written once, whatever the chunks
    assert _online(ws, list(expected)) == expected
    # new events arrive; an incremental run reads only those
    later = _events(800, "2026-01-11", 2, seed=2)
    ws.datasets.import_("events", pd.concat([first, later]))
    (inc,) = ws.features.materialize(incremental=True, end=T("2026-01-13").timestamp())
    assert inc.start == end
    assert inc.rows == later["user_id"].nunique()  # one record per entity seen in the window
    everything = _latest(pd.concat([first, later]))
    assert _online(ws, list(everything)) == everything
    # a full backfill of an old window never moves values back in time
    ws.features.materialize(start=T("2026-01-01").timestamp(), end=T("2026-01-05").timestamp())
    assert _online(ws, list(everything)) == everything
    assert ws.features.online.count("activity") == len(everything)


def test_ttl_applies_to_online_reads_and_freshness(ws: Workspace) -> None:
    events = pd.DataFrame(
        {"user_id": [1, 2], "ts": [T("2026-01-01"), T("2026-01-09")], "clicks": [5, 7]}
    )
    ws.datasets.import_("events", events)
    _apply(ws, ttl="3d")
    ws.features.materialize(end=T("2026-01-10").timestamp())
    now = T("2026-01-10").timestamp()
    assert _online(ws, [1, 2, 3], now=now) == {1: None, 2: 7, 3: None}
    assert _online(ws, [1], now=T("2026-01-03").timestamp()) == {1: 5}
    (fresh,) = ws.features.freshness()
    assert fresh.latest_event == T("2026-01-09").timestamp()
    assert fresh.materialized_until == now and fresh.lag_s == 0 and fresh.online_entities == 2
    with pytest.raises(InvalidInput, match="lacks join key 'user_id'"):
        ws.features.online_features(["activity:clicks"], [{"user": 1}])


KILLER = """
import os, signal, sys
import pmle
ws = pmle.open_workspace(sys.argv[1])
def progress(view, done, total):
    if done == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # dies with 3 of 8 chunks written
ws.features.materialize(end=float(sys.argv[2]), chunks=8, progress=progress)
"""


def test_a_killed_run_resumes_without_redoing_chunks(ws: Workspace, tmp_path: Path) -> None:
    events = _events(20_000, "2026-01-01", 16, seed=5)
    ws.datasets.import_("events", events)
    _apply(ws)
    end = T("2026-01-17").timestamp()
    script = tmp_path / "killer.py"
    script.write_text(textwrap.dedent(KILLER))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run(
        [sys.executable, str(script), str(ws.root), str(end)], env=env, capture_output=True
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    (left,) = ws.features.views()  # still registered
    from pmle.features.materialize import runs

    (dead,) = runs(ws.features)
    assert dead.state == "RUNNING" and dead.done == 3 and dead.chunks == 8
    seen: list[int] = []
    (resumed,) = ws.features.materialize(progress=lambda view, done, total: seen.append(done))
    assert resumed.id == dead.id and resumed.state == "SUCCEEDED"
    assert seen == [4, 5, 6, 7, 8]  # only the five missing chunks
    expected = _latest(events)
    assert _online(ws, list(expected)) == expected
    assert left.name == "activity"


def test_an_unfinished_run_cut_by_time_is_redone_by_key(ws: Workspace) -> None:
    """Runs recorded before chunks were cut by key hash list time windows; resuming one
    writes its whole window again in key chunks (newer-wins writes make that safe)."""
    import sqlalchemy as sa

    from pmle.features.materialize import runs
    from pmle.storage import schema as t

    events = _events(3_000, "2026-01-01", 10, seed=7)
    ws.datasets.import_("events", events)
    _apply(ws)
    lo, hi = T("2026-01-01").timestamp(), T("2026-01-11").timestamp()
    with ws.engine.begin() as conn:
        conn.execute(
            sa.insert(t.feature_materializations).values(
                view="activity",
                version=1,
                store=ws.features.online.url,
                start=lo,
                end=hi,
                chunks=[[lo, lo + 86_400], [lo + 86_400, hi]],
                done=[0],
                rows=10,
                state="RUNNING",
                started_at=T("2026-01-11").to_pydatetime(),
            )
        )
    (run,) = ws.features.materialize()
    assert run.state == "SUCCEEDED" and run.chunks == run.done == 1
    expected = _latest(events)
    assert run.rows == len(expected)
    assert _online(ws, list(expected)) == expected
    assert [r.id for r in runs(ws.features)] == [run.id]


def test_nan_and_infinite_values_survive_the_online_store(ws: Workspace) -> None:
    events = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "ts": [T("2026-01-01")] * 3,
            "clicks": [1, 2, 3],
            "rate": [float("nan"), float("inf"), 0.5],
        }
    )
    ws.datasets.import_("events", events)
    ws.features.apply(
        {
            "entities": [{"name": "user", "join_keys": ["user_id"]}],
            "feature_views": [
                {
                    "name": "rates",
                    "entities": ["user"],
                    "source": {"dataset": "events"},
                    "timestamp": "ts",
                    "features": [{"name": "rate", "dtype": "float64"}],
                }
            ],
        }
    )
    ws.features.materialize(end=T("2026-01-02").timestamp())
    rows = ws.features.online_features(["rates:rate"], [{"user_id": u} for u in (1, 2, 3)])
    values = [r["rate"] for r in rows]
    # pandas' NaN is a missing value (null) once imported; infinity stays a float
    assert values[0] is None and values[1] == float("inf") and values[2] == 0.5
