"""Batch prediction with runner="ray": a real local Ray, output equal to the local runner's."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pmle.errors import InvalidInput
from pmle.serving import batch_io
from pmle.serving.batch import batch_predict
from pmle.workspace import Workspace

# Ray Data logs its whole context, deprecated settings included, on every execution.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated:DeprecationWarning")

N = 1_500
KW = {"n_estimators": 15, "num_leaves": 7, "num_threads": 1, "verbose": -1}


class Crash(Exception):
    pass


def _crash_after(n: int):  # type: ignore[no-untyped-def]
    calls = [0]

    def progress(done: int, total: int | None) -> None:
        calls[0] += 1
        if calls[0] == n:
            raise Crash

    return progress


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """One small local Ray for the module (started once: it takes seconds), shut down after."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, object_store_memory=100 * 1024**2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "id": np.arange(N),
            "x": rng.normal(size=N),
            "n": rng.integers(0, 10, size=N),
            "c": rng.choice(["red", "green", "blue"], size=N),
        }
    )


@pytest.fixture
def clf_ws(ws: Workspace, frame: pd.DataFrame) -> Workspace:
    X = frame[["x", "n", "c"]].assign(c=frame["c"].astype("category"))
    y = np.where(X["x"] + (X["c"] == "red") > 0.3, "yes", "no")
    ws.models.register("clf", lgb.LGBMClassifier(**KW).fit(X, y), input_example=X)
    return ws


@pytest.mark.slow
@pytest.mark.parametrize(
    ("src_name", "out_name"), [("in.parquet", "out.parquet"), ("in.csv", "out.csv")]
)
def test_file_to_file_equals_local(
    ray_local: None,
    clf_ws: Workspace,
    frame: pd.DataFrame,
    tmp_path: Path,
    src_name: str,
    out_name: str,
) -> None:
    src = tmp_path / src_name
    frame.to_parquet(src) if src.suffix == ".parquet" else frame.to_csv(src, index=False)
    local = batch_predict(clf_ws, "clf", src, tmp_path / f"local-{out_name}", chunk_rows=400)
    seen: list[tuple[int, int | None]] = []
    res = batch_predict(
        clf_ws,
        "clf",
        src,
        tmp_path / out_name,
        chunk_rows=400,
        runner="ray",
        progress=lambda d, t: seen.append((d, t)),
    )
    assert (
        (res.rows, res.chunks, res.chunks_skipped)
        == (N, 4, 0)
        == (
            local.rows,
            local.chunks,
            local.chunks_skipped,
        )
    )
    assert (tmp_path / out_name).read_bytes() == (tmp_path / f"local-{out_name}").read_bytes()
    total = N if src.suffix == ".parquet" else None
    assert len(seen) == 4 and seen[-1] == (N, total)
    assert not (tmp_path / f"{out_name}.pmle-batch").exists()
    graph = clf_ws.lineage.downstream(clf_ws.models.get("clf").lineage_artifact_id or 0)
    execution = graph.executions[res.execution_id or 0]
    assert execution.properties["runner"] == "ray" and execution.properties["rows"] == N


@pytest.mark.slow
def test_dataset_to_dataset_equals_local(
    ray_local: None, clf_ws: Workspace, frame: pd.DataFrame
) -> None:
    dv = clf_ws.datasets.import_("customers", frame)
    local = batch_predict(clf_ws, "clf", "customers", "scored", chunk_rows=500)
    res = batch_predict(clf_ws, "clf", dv.ref, "scored", chunk_rows=500, runner="ray")
    # Same content is the same version: the ray output is the local output, row for row.
    assert res.output == local.output == "scored@1" and res.output_kind == "dataset"
    assert res.execution_id not in (None, local.execution_id)
    assert res.dataset is not None and res.dataset.num_rows == N


@pytest.mark.slow
def test_resume_across_runners(
    ray_local: None, clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    reference = tmp_path / "reference.parquet"
    batch_predict(clf_ws, "clf", src, reference, chunk_rows=100)
    out = tmp_path / "out.parquet"
    staging = tmp_path / "out.parquet.pmle-batch"
    # Killed under ray after 3 parts: the local runner finishes the job from them.
    with pytest.raises(Crash):
        batch_predict(
            clf_ws, "clf", src, out, chunk_rows=100, runner="ray", progress=_crash_after(3)
        )
    assert len(list(staging.glob("part-*.parquet"))) == 3 and not out.exists()
    res = batch_predict(clf_ws, "clf", src, out, chunk_rows=100)
    assert (res.chunks, res.chunks_skipped) == (15, 3)
    assert pq.read_table(out).equals(pq.read_table(reference))
    # Killed locally after 5 parts: the ray runner predicts only the other 10.
    out.unlink()
    with pytest.raises(Crash):
        batch_predict(clf_ws, "clf", src, out, chunk_rows=100, progress=_crash_after(5))
    res = batch_predict(clf_ws, "clf", src, out, chunk_rows=100, runner="ray")
    assert (res.chunks, res.chunks_skipped, res.rows) == (15, 5, N)
    assert pq.read_table(out).equals(pq.read_table(reference))
    assert not staging.exists()


@pytest.mark.slow
def test_errors_inside_ray_keep_their_message(
    ray_local: None, clf_ws: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "in.csv"
    rows = "\n".join(f"{i},0.5,3,red" for i in range(700_000))
    # A bad float past the reader's first block: the driver's look at the header cannot see it,
    # the read stage in Ray fails on it.
    src.write_text(f"id,x,n,c\n{rows}\n1,oops,3,red\n")
    assert src.stat().st_size > batch_io.BLOCK_BYTES
    with pytest.raises(InvalidInput, match=r"cannot read in\.csv after row") as info:
        batch_predict(clf_ws, "clf", src, tmp_path / "out.csv", chunk_rows=250_000, runner="ray")
    assert "\n" not in str(info.value)  # the reader's message, not a Ray traceback
    assert not (tmp_path / "out.csv").exists()


def test_runner_names_and_missing_ray(
    clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    with pytest.raises(InvalidInput, match="unknown runner 'spark'"):
        batch_predict(clf_ws, "clf", src, tmp_path / "out.parquet", runner="spark")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(InvalidInput) as info:
        batch_predict(clf_ws, "clf", src, tmp_path / "out.parquet", runner="ray")
    assert "needs Ray, which is not installed" in str(info.value)
    assert info.value.hint == "pip install 'pmle[ray]'"
    assert not list(tmp_path.glob("out.parquet*"))
