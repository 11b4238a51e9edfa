"""Batch prediction over real files, a real workspace and real LightGBM models."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.serving import batch_io
from pmle.serving.batch import BatchPredictionResult, batch_predict
from pmle.workspace import Workspace

N = 2_000
KW: dict[str, Any] = {"n_estimators": 15, "num_leaves": 7, "num_threads": 1, "verbose": -1}


def make_frame(n: int, seed: int = 1) -> pd.DataFrame:
    """Instances with an id the model does not use, numbers, and a string category."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "n": rng.integers(0, 10, size=n),
            "c": rng.choice(["red", "green", "blue"], size=n),
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame(N)


def _features(df: pd.DataFrame) -> pd.DataFrame:
    return df[["x", "n", "c"]].assign(c=df["c"].astype("category"))


@pytest.fixture
def clf_ws(ws: Workspace, frame: pd.DataFrame) -> Workspace:
    """The workspace with `clf` (binary LightGBM classifier) registered, alias `champion`."""
    X = _features(frame)
    y = ((X["x"] + (X["c"] == "red") + 0.1 * X["n"]) > 0.5).astype(int)
    model = lgb.LGBMClassifier(**KW).fit(X, y)
    ws.models.register("clf", model, input_example=X, aliases=["champion"])
    return ws


def expected(ws: Workspace, ref: str, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """What LoadedModel says for the same rows, in one call."""
    m = ws.models.load(ref)
    proba = m.predict_proba(df) if m.task in {"binary", "multiclass"} else None
    return m.predict(df), proba


def check_output(out: pd.DataFrame, df: pd.DataFrame, ws: Workspace, ref: str) -> None:
    labels, proba = expected(ws, ref, df)
    pd.testing.assert_frame_equal(
        out[list(df.columns)].reset_index(drop=True), df.reset_index(drop=True), check_dtype=False
    )
    assert (out["prediction"].to_numpy() == labels).all()
    if proba is not None:
        classes = ws.models.load(ref).classes or []
        got = out[[f"probability_{c}" for c in classes]].to_numpy()
        np.testing.assert_allclose(got, proba, rtol=0, atol=1e-12)


def test_parquet_file_to_parquet_file(
    clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    out = tmp_path / "out" / "scored.parquet"
    seen: list[tuple[int, int | None]] = []
    res = batch_predict(
        clf_ws, "clf@champion", src, out, chunk_rows=300, progress=lambda d, t: seen.append((d, t))
    )
    assert isinstance(res, BatchPredictionResult)
    assert (res.model, res.rows, res.chunks, res.chunks_skipped) == ("clf@1", N, 7, 0)
    assert res.output == str(out) and res.output_kind == "file"
    assert seen[0] == (300, N) and seen[-1] == (N, N) and len(seen) == 7
    table = pq.read_table(out)
    assert table.column_names == [*frame.columns, "prediction", "probability_0", "probability_1"]
    check_output(table.to_pandas(), frame, clf_ws, "clf@1")
    assert not out.with_name("scored.parquet.pmle-batch").exists()
    # Lineage: model and input file in, output file out.
    graph = clf_ws.lineage.downstream(clf_ws.models.get("clf").lineage_artifact_id or 0)
    [execution] = [x for x in graph.executions.values() if x.type == "BatchPrediction"]
    assert execution.id == res.execution_id and execution.properties["rows"] == N
    assert [a.uri for a in graph.outputs_of(execution.id)] == [f"file://{out}"]
    upstream = clf_ws.lineage.upstream(graph.outputs_of(execution.id)[0].id)
    names = {a.name for a in upstream.artifacts.values()}
    assert {"clf@1", "in.parquet", "scored.parquet"} <= names


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".csv.gz", ".jsonl.gz"])
def test_csv_and_jsonl_in_csv_out(
    clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    src = tmp_path / f"in{suffix}"
    if suffix.startswith(".csv"):
        frame.to_csv(src, index=False)
    else:
        frame.to_json(src, orient="records", lines=True)  # compression follows the suffix
    out = tmp_path / "scored.csv"
    seen: list[int | None] = []
    res = batch_predict(
        clf_ws, "clf", src, out, chunk_rows=500, progress=lambda d, t: seen.append(t)
    )
    assert res.rows == N and res.chunks == 4 and seen == [None] * 4
    got = pd.read_csv(out)
    check_output(got, frame, clf_ws, "clf@1")


def test_dataset_in_dataset_out(clf_ws: Workspace, frame: pd.DataFrame) -> None:
    dv = clf_ws.datasets.import_("customers", frame)
    res = batch_predict(clf_ws, "clf", "customers", "scored", chunk_rows=700)
    assert res.output == "scored@1" and res.output_kind == "dataset" and res.dataset is not None
    assert res.dataset.num_rows == N and res.chunks == 3
    check_output(clf_ws.datasets.to_pandas("scored@1"), frame, clf_ws, "clf@1")
    # The new version is produced by the batch prediction, from the model and the dataset.
    out_id = res.dataset.lineage_artifact_id or 0
    [producer] = clf_ws.lineage.producers(out_id)
    assert producer.type == "BatchPrediction" and producer.id == res.execution_id
    graph = clf_ws.lineage.upstream(out_id, max_depth=1)
    assert {a.name for a in graph.inputs_of(producer.id)} == {"clf@1", dv.ref}
    # Same prediction again: same content, same version, one more execution.
    again = batch_predict(clf_ws, "clf@1", "customers@1", "scored")
    assert again.output == "scored@1" and again.execution_id not in (None, res.execution_id)
    assert not list((clf_ws.state_dir / "tmp" / "batch").iterdir())


def test_regression_and_multiclass_columns(
    ws: Workspace, frame: pd.DataFrame, tmp_path: Path
) -> None:
    X = _features(frame)
    ws.models.register("reg", lgb.LGBMRegressor(**KW).fit(X, 2 * X["x"] + X["n"]), input_example=X)
    y3 = np.where(X["x"] < -0.5, "low", np.where(X["x"] < 0.5, "mid", "high"))
    ws.models.register("multi", lgb.LGBMClassifier(**KW).fit(X, y3), input_example=X)
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    batch_predict(ws, "reg", src, tmp_path / "reg.parquet", chunk_rows=999)
    reg = pq.read_table(tmp_path / "reg.parquet")
    assert reg.column_names == [*frame.columns, "prediction"]
    assert reg.schema.field("prediction").type == pa.float64()
    check_output(reg.to_pandas(), frame, ws, "reg")
    batch_predict(ws, "multi", src, tmp_path / "multi.parquet", chunk_rows=999)
    multi = pq.read_table(tmp_path / "multi.parquet")
    assert multi.column_names[-4:] == [
        "prediction", "probability_high", "probability_low", "probability_mid"
    ]  # fmt: skip
    assert multi.schema.field("prediction").type == pa.string()
    check_output(multi.to_pandas(), frame, ws, "multi")


class Crash(Exception):
    pass


def _crash_after(chunks: int) -> Any:
    def progress(done: int, total: int | None) -> None:
        progress.calls += 1  # type: ignore[attr-defined]
        if progress.calls == chunks:  # type: ignore[attr-defined]
            raise Crash

    progress.calls = 0  # type: ignore[attr-defined]
    return progress


def test_resume_skips_finished_chunks(
    clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    reference = tmp_path / "reference.parquet"
    batch_predict(clf_ws, "clf", src, reference, chunk_rows=250)

    out = tmp_path / "out.parquet"
    staging = tmp_path / "out.parquet.pmle-batch"
    with pytest.raises(Crash):
        batch_predict(clf_ws, "clf", src, out, chunk_rows=250, progress=_crash_after(3))
    assert not out.exists()
    assert sorted(p.name for p in staging.glob("part-*")) == [
        f"part-{i:06d}.parquet" for i in range(3)
    ]
    predicted: list[int] = []
    real_add = batch_io.PredictionColumns.add
    monkeypatch.setattr(
        batch_io.PredictionColumns,
        "add",
        lambda self, chunk: predicted.append(chunk.num_rows) or real_add(self, chunk),
    )
    res = batch_predict(clf_ws, "clf", src, out, chunk_rows=250)
    assert (res.chunks, res.chunks_skipped, res.rows) == (8, 3, N)
    assert predicted == [250] * 5  # only the unfinished chunks were predicted
    assert pq.read_table(out).equals(pq.read_table(reference))
    assert not staging.exists()


def test_no_resume_and_other_chunking_redo_everything(
    clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path
) -> None:
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    out = tmp_path / "out.parquet"
    with pytest.raises(Crash):
        batch_predict(clf_ws, "clf", src, out, chunk_rows=250, progress=_crash_after(2))
    res = batch_predict(clf_ws, "clf", src, out, chunk_rows=250, resume=False)
    assert res.chunks_skipped == 0 and res.rows == N
    with pytest.raises(Crash):
        batch_predict(clf_ws, "clf", src, out, chunk_rows=250, progress=_crash_after(2))
    # Other chunk boundaries: the old parts hold other rows and must not be reused.
    res = batch_predict(clf_ws, "clf", src, out, chunk_rows=400)
    assert res.chunks_skipped == 0 and res.chunks == 5
    check_output(pq.read_table(out).to_pandas(), frame, clf_ws, "clf@1")


KILL_SCRIPT = """
import sys, time
import pmle
from pmle.serving.batch import batch_predict
ws = pmle.open_workspace(sys.argv[1])
batch_predict(ws, "clf", sys.argv[2], sys.argv[3], chunk_rows=200,
              progress=lambda done, total: time.sleep(0.3))
"""


def test_killed_run_resumes(clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    out = tmp_path / "out.parquet"
    staging = tmp_path / "out.parquet.pmle-batch"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(clf_ws.root), str(src), str(out)],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(staging.glob("part-*.parquet")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no part appeared within 60 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    finished = len(list(staging.glob("part-*.parquet")))
    assert 1 <= finished < 10
    res = batch_predict(clf_ws, "clf", src, out, chunk_rows=200)
    assert res.chunks == 10 and res.chunks_skipped == finished and res.rows == N
    check_output(pq.read_table(out).to_pandas(), frame, clf_ws, "clf@1")


def test_empty_input_gives_empty_output(clf_ws: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "empty.csv"
    src.write_text("id,x,n,c\n")
    res = batch_predict(clf_ws, "clf", src, tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert res.rows == 0 and res.chunks == 0 and table.num_rows == 0
    assert table.column_names[-3:] == ["prediction", "probability_0", "probability_1"]


def test_bad_inputs(clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path) -> None:
    tmp_path = tmp_path / "files"  # beside the workspace folder
    tmp_path.mkdir()
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    out = tmp_path / "out.parquet"
    xlsx = tmp_path / "data.xlsx"
    xlsx.write_text("not really")
    frame.drop(columns=["n"]).to_parquet(tmp_path / "lacking.parquet")
    frame.assign(prediction=1).to_parquet(tmp_path / "taken.parquet")
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"model_ref": "nope"}, NotFound, "no model named 'nope'"),
        ({"model_ref": "clf@7"}, NotFound, "has no version 7"),
        ({"input": "unknown_dataset"}, NotFound, "no dataset named"),
        ({"input": tmp_path / "missing.parquet"}, InvalidInput, "no such file"),
        ({"input": str(tmp_path / "missing.csv")}, InvalidInput, "no such file"),
        ({"input": xlsx}, InvalidInput, "cannot tell the format"),
        ({"input": tmp_path / "lacking.parquet"}, InvalidInput, "lacks the model's column(s) n"),
        ({"input": tmp_path / "taken.parquet"}, InvalidInput, "already has column(s) prediction"),
        ({"output": tmp_path / "out.jsonl"}, InvalidInput, "unknown output format"),
        ({"output": "bad name!"}, InvalidInput, "invalid output dataset name"),
        ({"output": src}, InvalidInput, "is the input file"),
        ({"runner": "spark"}, InvalidInput, "unknown runner"),
        ({"chunk_rows": 0}, InvalidInput, "chunk_rows must be a positive integer"),
    ]
    for change, error, message in cases:
        args: dict[str, Any] = {"model_ref": "clf", "input": src, "output": out, **change}
        with pytest.raises(error, match=None) as info:
            batch_predict(
                clf_ws, args.pop("model_ref"), args.pop("input"), args.pop("output"), **args
            )
        assert message in str(info.value), (change, str(info.value))
        assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["in.parquet", "data.xlsx", "lacking.parquet", "taken.parquet"]
    )  # no output and no staging folder left behind
    assert not (clf_ws.state_dir / "tmp" / "batch").exists()


def test_malformed_csv_midway_leaves_no_output(
    clf_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_io, "BLOCK_BYTES", 1 << 20)
    src = tmp_path / "in.csv"
    rows = "\n".join(f"{i},0.5,3,red" for i in range(200_000))
    src.write_text(f"id,x,n,c\n{rows}\n1,2,3\n")  # the last row, in a later block, is short
    out = tmp_path / "out.csv"
    with pytest.raises(InvalidInput, match=r"cannot read in\.csv after row"):
        batch_predict(clf_ws, "clf", src, out, chunk_rows=50_000)
    assert not out.exists()
    # The chunks before the bad row stay as a resume point (dropped once the file changes).
    assert len(list(tmp_path.glob("out.csv.pmle-batch/part-*.parquet"))) == 3


def test_one_writer_per_output(clf_ws: Workspace, frame: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    frame.to_parquet(src)
    staging = tmp_path / "out.parquet.pmle-batch"
    staging.mkdir()
    fd = os.open(staging / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(Conflict, match="another batch prediction"):
            batch_predict(clf_ws, "clf", src, tmp_path / "out.parquet")
    finally:
        os.close(fd)


MEMORY_SCRIPT = """
import json, sys, time
import lightgbm, pandas, pyarrow as pa, pyarrow.parquet as pq
import pmle
from pmle.serving.batch import batch_predict
ws = pmle.open_workspace(sys.argv[1])
model = ws.models.load("big")
first = next(pq.ParquetFile(sys.argv[2]).iter_batches(batch_size=10))
model.predict_proba(first.to_pandas())  # warm up: LightGBM's and pandas' first-call allocations
out = {}
start = time.perf_counter()
if sys.argv[4] == "stream":
    res = batch_predict(ws, "big", sys.argv[2], sys.argv[3], chunk_rows=100_000)
    out = {"rows": res.rows, "chunks": res.chunks}
elif sys.argv[4] == "all-at-once":  # the reference: every row in memory at once
    table = pq.read_table(sys.argv[2])
    proba = model.predict_proba(table.to_pandas())
    table = table.append_column("prediction", pa.array(proba.argmax(axis=1)))
    for i in range(proba.shape[1]):
        table = table.append_column(f"probability_{i}", pa.array(proba[:, i]))
    pq.write_table(table, sys.argv[3])
out["seconds"] = time.perf_counter() - start
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (pytest) across exec.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
out["maxrss_mb"] = int(hwm.split()[1]) / 1024
print(json.dumps(out))
"""


#: Peak RSS a 1M-row batch prediction may add over a process that has only loaded the model.
#: Measured 40-80 MB with 100k-row chunks (it does not grow with the rows); holding all rows at
#: once adds 140-200 MB for this 38 MB table.
CEILING_MB = 150


@pytest.mark.slow
def test_million_rows_stay_under_a_memory_ceiling(ws: Workspace, tmp_path: Path) -> None:
    n, cols = 1_000_000, ["a", "b", "c", "d", "e"]
    rng = np.random.default_rng(0)
    table = pa.table({c: rng.normal(size=n) for c in cols})
    src = tmp_path / "big.parquet"
    pq.write_table(table, src)  # one 1M-row row group: the reader must still stream
    all_rows_mb = table.nbytes / 2**20
    small = table.slice(0, 5_000).to_pandas()
    y = (small["a"] + small["b"] > 0).astype(int)
    ws.models.register("big", lgb.LGBMClassifier(**KW).fit(small, y), input_example=small)
    del table, small

    def measure(mode: str) -> dict[str, Any]:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                MEMORY_SCRIPT,
                str(ws.root),
                str(src),
                str(tmp_path / "o.parquet"),
                mode,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))

    baseline = measure("baseline")["maxrss_mb"]
    run = measure("stream")
    assert run["rows"] == n and run["chunks"] == 10
    assert pq.ParquetFile(tmp_path / "o.parquet").metadata.num_rows == n
    at_once = measure("all-at-once")["maxrss_mb"] - baseline
    growth = run["maxrss_mb"] - baseline
    print(
        f"\nbatch prediction of {n:,} rows: {n / run['seconds']:,.0f} rows/s; peak RSS "
        f"{run['maxrss_mb']:.0f} MB = baseline {baseline:.0f} MB + {growth:.0f} MB; all rows at "
        f"once: baseline + {at_once:.0f} MB (the input table alone is {all_rows_mb:.0f} MB)"
    )
    assert growth < CEILING_MB
    # Loose on purpose: allocator noise moves the streaming peak by ±20 MB from run to run.
    assert growth < at_once
