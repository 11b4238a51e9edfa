"""Tuning studies: finding the optimum, algorithms, early stopping, parallel trials that
overlap, resuming after a kill without repeating finished trials, job trials, the best model,
and trials on Ray."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.workspace import Workspace

SPACE = {
    "x": {"type": "double", "min": -4, "max": 4},
    "kind": {"type": "categorical", "values": ["a", "b"]},
}


def _bowl(trial) -> float:
    return (trial.params["x"] - 1) ** 2 + (0 if trial.params["kind"] == "a" else 2)


def test_a_study_finds_the_minimum_and_trials_are_runs(ws: Workspace) -> None:
    study = ws.tuning.create_study(
        "bowl", SPACE, metric="loss", goal="minimize", max_trials=25, seed=1
    )
    study.optimize(_bowl)
    best = study.best_trial
    assert best.params["kind"] == "a" and abs(best.params["x"] - 1) < 0.5
    assert study.finished == 25 and len(study.trials) == 25
    runs = ws.tracking.runs("bowl", max_results=None)
    assert len(runs) == 25 and all(r.status == "FINISHED" for r in runs)
    best_run = ws.tracking.run(best.run_id)
    assert best_run.metrics["loss"] == pytest.approx(best.value)
    assert best_run.params["kind"] == "a" and best_run.tags["pmle.study"] == "bowl"
    # the study is found again by name, with its settings
    again = ws.tuning.study("bowl")
    assert again.goal == "minimize" and again.max_trials == 25 and again.best_trial == best
    assert [s.name for s in ws.tuning.studies()] == ["bowl"]
    study.optimize(_bowl)  # already done: nothing more runs
    assert len(ws.tuning.study("bowl").trials) == 25


def test_grid_and_random(ws: Workspace) -> None:
    grid = ws.tuning.create_study(
        "grid",
        {"depth": {"type": "discrete", "values": [2, 4, 6]}, "kind": SPACE["kind"]},
        metric="score",
        algorithm="grid",
        max_trials=6,
    )
    grid.optimize(lambda t: t.params["depth"] * (1 if t.params["kind"] == "a" else -1))
    assert sorted((t.params["depth"], t.params["kind"]) for t in grid.trials) == [
        (d, k) for d in (2, 4, 6) for k in ("a", "b")
    ]
    assert grid.best_trial.params == {"depth": 6, "kind": "a"}
    rand = ws.tuning.create_study("rand", SPACE, metric="loss", algorithm="random", max_trials=5)
    rand.optimize(_bowl)
    assert rand.finished == 5
    with pytest.raises(InvalidInput, match="grid search needs a finite set"):
        ws.tuning.create_study("g2", SPACE, metric="m", algorithm="grid")
    with pytest.raises(AlreadyExists):
        ws.tuning.create_study("grid", SPACE, metric="m")
    with pytest.raises(InvalidInput, match="unknown algorithm"):
        ws.tuning.create_study("s", SPACE, metric="m", algorithm="annealing")
    with pytest.raises(NotFound, match="no tuning study named 'nope'"):
        ws.tuning.study("nope")


def test_failures_and_missing_values_do_not_stop_the_study(ws: Workspace) -> None:
    study = ws.tuning.create_study("flaky", SPACE, metric="loss", goal="minimize", max_trials=6)

    def objective(trial):
        if trial.number % 3 == 1:
            raise ValueError("diverged")
        if trial.number % 3 == 2:
            return None  # and logs nothing: no value
        return _bowl(trial)

    study.optimize(objective)
    states = [t.state for t in sorted(study.trials, key=lambda t: t.number)]
    assert states == ["COMPLETE", "FAIL", "FAIL"] * 2
    errors = {t.number: t.error for t in study.trials}
    assert "ValueError: diverged" in errors[1] and "reported no value" in errors[2]
    assert ws.tracking.run(study.trials[1].run_id).status == "FAILED"


def test_median_early_stopping(ws: Workspace) -> None:
    study = ws.tuning.create_study(
        "curves", SPACE, metric="loss", goal="minimize", max_trials=12,
        early_stopping="median", seed=3,
    )  # fmt: skip
    steps_run: dict[int, int] = {}

    def objective(trial) -> float:
        base = _bowl(trial)
        for step in range(10):
            steps_run[trial.number] = step + 1
            trial.report(base + 10 - step, step)
        return base

    study.optimize(objective)
    pruned = [t for t in study.trials if t.state == "PRUNED"]
    assert pruned, "no trial was stopped early"
    assert all(steps_run[t.number] < 10 for t in pruned)
    for t in pruned:  # the curve up to the stop is on the trial's run
        info = ws.tracking.run(t.run_id)
        assert info.tags["pmle.pruned"].startswith("stopped early at step")
        assert len(ws.tracking.metric_history(t.run_id, "loss")) == steps_run[t.number]


def test_parallel_trials_overlap(ws: Workspace) -> None:
    study = ws.tuning.create_study("par", SPACE, metric="loss", max_trials=4, parallel=2)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def objective(trial) -> float:
        start = time.monotonic()
        time.sleep(0.5)
        with lock:
            spans.append((start, time.monotonic()))
        return 1.0

    started = time.monotonic()
    study.optimize(objective)
    elapsed = time.monotonic() - started
    spans.sort()
    overlaps = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1])
    assert overlaps >= 1 and len(spans) == 4
    assert elapsed < 4 * 0.5  # two at a time, not one after another


RESUMED = textwrap.dedent(
    """
    import os, sys, time
    import pmle
    ws = pmle.open_workspace(sys.argv[1])
    study = ws.tuning.study("resume")
    log = open(sys.argv[2], "a")

    def objective(trial):
        log.write(f"start {trial.number}\\n"); log.flush()
        time.sleep(float(sys.argv[3]))
        return trial.params["x"] ** 2

    study.optimize(objective)
    """
)


def test_a_killed_study_resumes_without_repeating_trials(ws: Workspace, tmp_path: Path) -> None:
    ws.tuning.create_study("resume", SPACE, metric="loss", goal="minimize", max_trials=6, seed=5)
    script = tmp_path / "resume.py"
    script.write_text(RESUMED)
    calls = tmp_path / "calls.txt"
    process = subprocess.Popen(
        [sys.executable, str(script), str(ws.root), str(calls), "0.4"], start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it inside a trial, after 2 finished
        done = [t for t in ws.tuning.study("resume").trials if t.state == "COMPLETE"]
        started = calls.read_text().count("start") if calls.exists() else 0
        if len(done) >= 2 and started == len(done) + 1:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # mid-trial, no clean-up
    process.wait()
    before = {t.number: t for t in ws.tuning.study("resume").trials}
    finished_before = {n for n, t in before.items() if t.state == "COMPLETE"}
    assert len(finished_before) >= 2 and any(t.state == "RUNNING" for t in before.values())

    ws.tuning.study("resume").optimize(lambda t: t.params["x"] ** 2)
    after = ws.tuning.study("resume").trials
    complete = [t for t in after if t.state == "COMPLETE"]
    assert len(complete) == 6  # max_trials reached, counting the ones before the kill
    for number in finished_before:  # finished trials kept, not run again
        kept = next(t for t in after if t.number == number)
        assert kept.params == before[number].params and kept.value == before[number].value
    interrupted = [t for t in after if t.error == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0].state == "FAIL"
    assert calls.read_text().count("start") == len(finished_before) + 1


def test_job_trials_and_registering_the_best(ws: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "trial.py"
    script.write_text(
        textwrap.dedent(
            """
            import argparse, os
            import numpy as np, pandas as pd
            from sklearn.linear_model import Ridge
            import pmle
            from pmle.models.format import save_model
            parser = argparse.ArgumentParser()
            parser.add_argument("--alpha", type=float)
            parser.add_argument("--seed", type=int)
            args = parser.parse_args()
            rng = np.random.default_rng(args.seed)
            x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
            y = x.a * 2 - x.b + rng.normal(scale=0.1, size=200)
            model = Ridge(alpha=args.alpha).fit(x, y)
            with pmle.job_run() as run:
                run.log_metric("r2", model.score(x, y))
            save_model(model, os.environ["AIP_MODEL_DIR"], input_example=x.head())
            """
        )
    )
    study = ws.tuning.create_study(
        "ridge", {"alpha": {"type": "discrete", "values": [0.1, 100.0, 10000.0]}},
        metric="r2", algorithm="grid", max_trials=3, parallel=2,
    )  # fmt: skip
    study.optimize_job(str(script), ["--seed", "4"])
    assert study.finished == 3 and study.best_trial.params == {"alpha": 0.1}
    jobs = ws.jobs.list()
    assert len(jobs) == 3 and all(j.state == "SUCCEEDED" for j in jobs)
    assert {j.run_id for j in jobs} == {t.run_id for t in study.trials}  # the job is the trial
    ref = study.register_best("ridge")
    assert ref == "ridge@1"
    best_run = ws.tracking.run(study.best_trial.run_id)
    assert best_run.tags["pmle.model"] == "ridge@1" and "→ ridge@1" in best_run.inputs
    assert ws.models.load("ridge@1").predict(
        __import__("pandas").DataFrame({"a": [1.0], "b": [0.0], "c": [0.0]})
    )[0] == pytest.approx(2.0, abs=0.2)


def _remote_bowl(trial) -> float:  # module level: Ray pickles it
    trial.report(5.0, 0)
    return (trial.params["x"] - 1) ** 2


def test_trials_on_ray(ws: Workspace) -> None:
    ray = pytest.importorskip("ray")
    study = ws.tuning.create_study("on-ray", SPACE, metric="loss", goal="minimize", max_trials=3)
    ray.init(num_cpus=2, object_store_memory=100 * 1024**2, include_dashboard=False)
    # the workers cannot import this test module: ship the objective by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        study.optimize(_remote_bowl, runner="ray")
    finally:
        ray.shutdown()
    assert study.finished == 3 and all(t.state == "COMPLETE" for t in study.trials)
    run = ws.tracking.run(study.trials[0].run_id)
    assert [p.step for p in ws.tracking.metric_history(run.id, "loss")] == [0, 1]
