"""Runs: what they log, nesting, ending, and runs from threads and asyncio tasks not mixing."""

from __future__ import annotations

import asyncio
import math
import threading

import pytest

from pmle.errors import AlreadyExists, Conflict, InvalidInput
from pmle.workspace import Workspace


def test_params_metrics_tags_notes(ws: Workspace) -> None:
    with ws.tracking.start_run("churn", "first", params={"lr": 0.1, "deep": True}) as run:
        run.log_params({"lr": 0.1, "model": "lgbm"})  # the same value again is fine
        for loss in (0.9, 0.5, 0.3):
            run.log_metric("loss", loss)
        run.log_metrics({"auc": 0.8, "loss": 0.25}, step=10)
        run.log_metric("diverged", float("nan"))
        run.set_tags({"team": "risk"})
        run.set_tag("team", "fraud")  # tags change
        run.note("baseline with defaults")
        with pytest.raises(Conflict, match=r"parameter 'lr' of run churn/first is '0\.1'"):
            run.log_param("lr", 0.2)
    info = ws.tracking.run("churn/first")
    assert info.status == "FINISHED" and info.ended_at is not None
    assert info.params == {"lr": "0.1", "deep": "True", "model": "lgbm"}
    assert info.metrics["loss"] == 0.25 and info.metrics["auc"] == 0.8
    assert math.isnan(info.metrics["diverged"])
    assert info.tags == {"team": "fraud"} and info.notes == "baseline with defaults"
    curve = ws.tracking.metric_history(info.id, "loss")
    assert [(p.step, p.value) for p in curve] == [(0, 0.9), (1, 0.5), (2, 0.3), (10, 0.25)]
    # an older step logged later does not replace the latest value
    with ws.tracking.start_run("churn", "late") as run:
        run.log_metric("loss", 0.1, step=5)
        run.log_metric("loss", 0.7, step=2)
    assert ws.tracking.run("churn/late").metrics["loss"] == 0.1


def test_bad_input(ws: Workspace) -> None:
    with ws.tracking.start_run("churn", "r") as run:
        with pytest.raises(InvalidInput, match="metric 'auc' must be a number"):
            run.log_metric("auc", "high")
        with pytest.raises(InvalidInput, match="step must be a whole number"):
            run.log_metric("auc", 1.0, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="non-empty text"):
            run.log_param("", 1)
    with pytest.raises(AlreadyExists, match="already has a run 'r'"):
        ws.tracking.start_run("churn", "r")
    with pytest.raises(InvalidInput, match="invalid experiment name"):
        ws.tracking.start_run("no spaces please")
    with pytest.raises(Conflict, match="has ended"):
        run.log_metric("auc", 0.5)


def test_exceptions_fail_and_interrupts_kill(ws: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), ws.tracking.start_run("churn", "boom") as run:
        run.log_metric("auc", 0.5)
        1 / 0  # noqa: B018
    failed = ws.tracking.run("churn/boom")
    assert failed.status == "FAILED" and "ZeroDivisionError" in (failed.error or "")
    assert failed.metrics == {"auc": 0.5}  # what was logged before stays
    with pytest.raises(KeyboardInterrupt), ws.tracking.start_run("churn", "stopped"):
        raise KeyboardInterrupt
    assert ws.tracking.run("churn/stopped").status == "KILLED"


def test_nested_runs(ws: Workspace) -> None:
    with ws.tracking.start_run("cv", "outer") as outer:
        for fold in range(3):
            with outer.child(f"fold-{fold}") as inner:
                inner.log_metric("auc", 0.7 + fold / 10)
        outer.log_metric("auc", 0.8)
    children = ws.tracking.runs("cv", parent=outer, order_by="name")
    assert [c.name for c in children] == ["fold-0", "fold-1", "fold-2"]
    assert all(c.parent_id == outer.id for c in children)
    assert [c.metrics["auc"] for c in children] == pytest.approx([0.7, 0.8, 0.9])
    assert ws.tracking.run(outer).metrics == {"auc": 0.8}


def test_runs_from_threads_do_not_mix(ws: Workspace) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with ws.tracking.start_run("threads", f"worker-{worker}") as run:
                run.log_param("worker", worker)
                for step in range(40):
                    run.log_metric("value", worker * 1000 + step)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for worker in range(6):
        info = ws.tracking.run(f"threads/worker-{worker}")
        assert info.params == {"worker": str(worker)}
        points = ws.tracking.metric_history(info.id, "value")
        assert [p.value for p in points] == [worker * 1000 + s for s in range(40)]
        assert [p.step for p in points] == list(range(40))


def test_runs_from_asyncio_tasks_do_not_mix(ws: Workspace) -> None:
    async def work(worker: int) -> None:
        with ws.tracking.start_run("tasks", f"task-{worker}") as run:
            for step in range(10):
                run.log_metric("value", worker + step / 100)
                await asyncio.sleep(0)  # let the other tasks interleave

    async def main() -> None:
        await asyncio.gather(*(work(w) for w in range(5)))

    asyncio.run(main())
    for worker in range(5):
        points = ws.tracking.metric_history(f"tasks/task-{worker}", "value")
        assert [p.value for p in points] == pytest.approx([worker + s / 100 for s in range(10)])


def test_artifacts_and_lineage(ws: Workspace, tmp_path, churn_csv) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    version = ws.datasets.import_("churn", churn_csv)
    report = tmp_path / "report.txt"
    report.write_text("all good", encoding="utf-8")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00" * 100)
    with ws.tracking.start_run("churn", "with-files") as run:
        run.log_dataset("churn")
        run.log_artifact(report)
        run.log_artifact(folder, "model")
        run.log_text("lr: 0.1\n", "config.yaml")
        figure = Figure()
        figure.subplots().plot([1, 2, 3])
        run.log_figure(figure, "curve.png")
    info = ws.tracking.run("churn/with-files")
    by_path = {a["path"]: a for a in info.artifacts}
    assert set(by_path) == {"report.txt", "model", "config.yaml", "curve.png"}
    assert ws.artifacts.get_bytes(by_path["report.txt"]["key"]) == b"all good"
    assert by_path["model"]["is_dir"] and by_path["model"]["size"] == 100
    assert ws.artifacts.get_bytes(by_path["curve.png"]["key"]).startswith(b"\x89PNG")
    # the run is an execution reading the dataset version in the lineage graph
    consumers = ws.lineage.consumers(version.lineage_artifact_id)
    assert any(c.type == "ExperimentRun" and c.name == "churn/with-files" for c in consumers)
    assert info.inputs  # shown with the run
    with pytest.raises(InvalidInput, match="no file or folder"):
        ws.tracking.start_run("churn").log_artifact(tmp_path / "missing.txt")
