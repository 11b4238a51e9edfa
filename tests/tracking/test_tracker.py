"""Experiments, comparing runs, curves and their plots, runs whose process died, and
pmle.start_run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import pmle
from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.tracking.plots import write_curves
from pmle.workspace import Workspace


def test_experiments(ws: Workspace) -> None:
    made = ws.tracking.create_experiment("churn", "retention models", {"owner": "ml"})
    assert made.name == "churn" and made.tags == {"owner": "ml"} and made.run_count == 0
    with pytest.raises(AlreadyExists):
        ws.tracking.create_experiment("churn")
    assert ws.tracking.create_experiment("churn", exist_ok=True).id == made.id
    with ws.tracking.start_run("churn"), ws.tracking.start_run("fraud"):
        pass
    listed = {e.name: e for e in ws.tracking.experiments()}
    assert listed["churn"].run_count == 1 and listed["fraud"].run_count == 1
    assert listed["churn"].last_run_at is not None
    with pytest.raises(NotFound, match="no experiment named 'spam'"):
        ws.tracking.experiment("spam")


def test_compare_and_curves(ws: Workspace, tmp_path: Path) -> None:
    refs = []
    for lr in (0.1, 0.3):
        with ws.tracking.start_run("churn", f"lr-{lr}", params={"lr": lr}) as run:
            for step in range(5):
                run.log_metrics({"loss": 1.0 / (1 + lr * step), "acc": 0.5 + lr * step / 10})
            run.log_metric("auc", 0.8 + lr / 10)
        refs.append(run.ref)
    frame = ws.tracking.compare(refs)
    assert list(frame.columns) == refs
    assert frame.loc["params.lr"].tolist() == ["0.1", "0.3"]
    assert frame.loc["metrics.auc"].tolist() == pytest.approx([0.81, 0.83])
    curves = ws.tracking.curves(refs)
    assert set(curves) == {"loss", "acc"}  # auc has one point: not a curve
    assert [p.value for p in curves["loss"]["churn/lr-0.3"]] == pytest.approx(
        [1.0 / (1 + 0.3 * s) for s in range(5)]
    )
    png = write_curves(curves, tmp_path / "curves.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    page = write_curves(ws.tracking.curves(refs, ["loss"]), tmp_path / "curves.html").read_text()
    assert "<svg" in page and "churn/lr-0.1" in page and "http" not in page.split("<svg")[0]
    with pytest.raises(InvalidInput, match="unknown format"):
        write_curves(curves, tmp_path / "curves.jpg")
    with pytest.raises(InvalidInput, match="no metric with more than one value"):
        write_curves(ws.tracking.curves(refs, []), tmp_path / "none.png")


def test_a_run_whose_process_died_is_failed(ws: Workspace) -> None:
    script = textwrap.dedent(
        f"""
        import os, pmle
        ws = pmle.open_workspace({str(ws.root)!r})
        run = ws.tracking.start_run("jobs", "crashed")
        run.log_metric("loss", 0.5)
        os._exit(3)  # no clean-up: the run stays RUNNING in the database
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    info = ws.tracking.run("jobs/crashed")
    assert info.status == "FAILED" and "ended without ending the run" in (info.error or "")
    assert info.metrics == {"loss": 0.5}
    with ws.tracking.start_run("jobs", "alive") as run:  # our own running runs stay RUNNING
        assert ws.tracking.run(run).status == "RUNNING"


def test_pmle_start_run_opens_the_workspace(ws: Workspace, monkeypatch) -> None:
    monkeypatch.setenv("PMLE_WORKSPACE", str(ws.root))
    with pmle.start_run("quick", "one", params={"a": 1}) as run:
        run.log_metric("m", 2.0)
    info = ws.tracking.run("quick/one")
    assert info.status == "FINISHED" and info.params == {"a": "1"}
    assert os.environ["PMLE_WORKSPACE"] == str(ws.root)


def test_histories_of_many_runs_in_one_query(ws: Workspace) -> None:
    import math

    refs = []
    for n in range(3):
        with ws.tracking.start_run("many", f"r{n}") as run:
            for step in range(4):
                run.log_metrics({"loss": 1 / (step + 1 + n), "acc": step * 0.1}, step=step)
            run.log_metric("gap", float("nan"))
            refs.append(run.id)
    got = ws.tracking.histories(refs)
    assert list(got) == [f"many/r{n}" for n in range(3)]
    for n, ref in enumerate(refs):
        curves = got[f"many/r{n}"]
        assert sorted(curves) == ["acc", "gap", "loss"]
        for key in ("acc", "loss"):
            assert curves[key] == ws.tracking.metric_history(ref, key)
        assert len(curves["gap"]) == 1 and math.isnan(curves["gap"][0].value)
    assert ws.tracking.histories([]) == {}


def test_keys_of_an_experiment_cover_every_run(ws: Workspace) -> None:
    from pmle.errors import NotFound

    with ws.tracking.start_run("keys", params={"lr": 0.1}) as run:
        run.log_metric("loss", 0.5)
    with ws.tracking.start_run("keys", params={"depth": 3}) as run:
        run.log_metric("auc", 0.9)
    with ws.tracking.start_run("other", params={"seed": 1}) as run:
        run.log_metric("rmse", 2.0)
    assert ws.tracking.keys("keys") == (["depth", "lr"], ["auc", "loss"])
    with pytest.raises(NotFound):
        ws.tracking.keys("nope")
