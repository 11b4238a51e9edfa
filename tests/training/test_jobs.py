"""Custom training jobs: the environment a job gets, its run, model and lineage; failures,
resource limits, cancelling, a supervisor that died, and the Ray runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.workspace import Workspace

TRAIN = textwrap.dedent(
    """
    import json, os, sys
    import lightgbm as lgb
    import pandas as pd
    import pmle
    from pmle.models.format import save_model

    frame = pd.read_parquet(os.environ["AIP_TRAINING_DATA_URI"])
    x = frame[["tenure", "monthly_charges"]]
    y = (frame["churn"] == "Yes").astype(int)
    with pmle.job_run() as run:
        run.log_params({"rounds": int(sys.argv[2])})
        model = lgb.LGBMClassifier(n_estimators=int(sys.argv[2]), verbose=-1).fit(x, y)
        run.log_metric("training_accuracy", float((model.predict(x) == y).mean()))
    save_model(model, os.environ["AIP_MODEL_DIR"], input_example=x.head())
    seen = {k: os.environ.get(k) for k in ("AIP_DATA_FORMAT", "AIP_CHECKPOINT_DIR", "PMLE_JOB_ID")}
    print("ENV", json.dumps(seen))
    print("CPUS", len(os.sched_getaffinity(0)), os.environ.get("OMP_NUM_THREADS"))
    """
)


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_job_trains_registers_and_is_tracked(ws: Workspace, tmp_path: Path, churn_csv) -> None:
    version = ws.datasets.import_("churn", churn_csv)
    lines: list[str] = []
    job = ws.jobs.run(
        str(_script(tmp_path, "train.py", TRAIN)),
        ["--rounds", "7"],
        data="churn",
        register="churn_job",
        cpus=1,
        memory="3G",
        on_output=lines.append,
    )
    assert job.state == "SUCCEEDED", job.error
    assert job.exit_code == 0 and job.model == "churn_job@1" and job.data == version.ref
    assert "CPUS 1 1" in lines  # pinned to one core, math libraries told so
    env = next(line for line in lines if line.startswith("ENV"))
    assert '"AIP_DATA_FORMAT": "parquet"' in env and f'"PMLE_JOB_ID": "{job.id}"' in env
    info = ws.tracking.run(job.run_id)
    assert info.status == "FINISHED" and info.experiment == "jobs"
    assert info.params == {"rounds": "7"} and 0.5 < info.metrics["training_accuracy"] <= 1
    assert [a["path"] for a in info.artifacts] == ["model"]
    assert info.tags["pmle.job_id"] == str(job.id)
    # the registered model's lineage goes back to the dataset version the job was given
    model = ws.models.get("churn_job@1")
    upstream = ws.lineage.upstream(model.lineage_artifact_id)
    assert version.lineage_artifact_id in set(upstream.artifacts)
    assert (
        ws.models.load("churn_job@1").predict(
            ws.datasets.to_pandas("churn")[["tenure", "monthly_charges"]].head()
        )
        is not None
    )
    assert ws.jobs.list()[0].id == job.id and "CPUS" in ws.jobs.logs(job.id)


def test_failures_keep_logs_and_say_why(ws: Workspace, tmp_path: Path) -> None:
    bad = _script(tmp_path, "bad.py", 'print("loading"); raise ValueError("no label column")')
    job = ws.jobs.run(str(bad))
    assert job.state == "FAILED" and job.exit_code == 1
    assert job.error is not None and job.error.startswith("exit code 1")
    assert "ValueError: no label column" in job.error and "loading" in ws.jobs.logs(job.id)
    assert ws.tracking.run(job.run_id).status == "FAILED"
    hog = _script(tmp_path, "hog.py", "blocks = [bytearray(50 * 2**20) for _ in range(200)]")
    job = ws.jobs.run(str(hog), memory="400M")
    assert job.state == "FAILED" and "out of memory" in (job.error or "")
    empty = _script(tmp_path, "empty.py", "print('no model saved')")
    job = ws.jobs.run(str(empty), register="nothing")
    assert job.state == "FAILED" and "no model in AIP_MODEL_DIR" in (job.error or "")
    with pytest.raises(InvalidInput, match="no training script"):
        ws.jobs.run(str(tmp_path / "missing.py"))
    with pytest.raises(InvalidInput, match="neither a script nor a module"):
        ws.jobs.run("not a module!")
    with pytest.raises(InvalidInput, match="CPUs; this machine has"):
        ws.jobs.run(str(empty), cpus=10_000)
    if not any(Path("/dev").glob("nvidia[0-9]*")):
        with pytest.raises(InvalidInput, match="GPU"):
            ws.jobs.run(str(empty), gpus=1)
    with pytest.raises(NotFound):
        ws.jobs.get(999)


def test_a_module_with_arguments(ws: Workspace, tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "mytrain"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("import sys; print('ARGS', sys.argv[1:])")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    lines: list[str] = []
    job = ws.jobs.run("mytrain.main", ["--epochs", "2"], on_output=lines.append)
    assert job.state == "SUCCEEDED" and "ARGS ['--epochs', '2']" in lines
    assert job.command == ["-m", "mytrain.main", "--epochs", "2"]


def test_cancel_stops_the_process(ws: Workspace, tmp_path: Path) -> None:
    slow = _script(
        tmp_path,
        "slow.py",
        "import time, pathlib, os\n"
        "pathlib.Path(os.environ['AIP_CHECKPOINT_DIR'], 'pid').write_text(str(os.getpid()))\n"
        "time.sleep(120)",
    )
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.setdefault("job", ws.jobs.run(str(slow))))
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(
        (ws.state_dir / "jobs").glob("*/checkpoints/pid")
    ):
        time.sleep(0.05)
    job_id = ws.jobs.list()[0].id
    pid = int(next((ws.state_dir / "jobs").glob("*/checkpoints/pid")).read_text())
    cancelled = ws.jobs.cancel(job_id)
    thread.join(30)
    assert cancelled.state == "CANCELLED"
    job = result["job"]
    assert job.state == "CANCELLED"  # type: ignore[attr-defined]
    assert ws.tracking.run(job.run_id).status == "KILLED"  # type: ignore[attr-defined]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(Conflict, match="not running"):
        ws.jobs.cancel(job_id)


def test_a_job_whose_supervisor_died_is_failed(ws: Workspace, tmp_path: Path) -> None:
    slow = _script(tmp_path, "slow.py", "import time; time.sleep(120)")
    supervisor = subprocess.Popen(
        [sys.executable, "-c",
         f"import pmle; pmle.open_workspace({str(ws.root)!r}).jobs.run({str(slow)!r})"],
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    jobs = []
    while time.monotonic() < deadline:
        jobs = [j for j in ws.jobs.list() if j.state == "RUNNING"]
        if jobs and ws.jobs.logs(jobs[0].id) is not None and _pid(ws, jobs[0].id):
            break
        time.sleep(0.1)
    job_pid = _pid(ws, jobs[0].id)
    os.killpg(supervisor.pid, signal.SIGKILL)  # the supervisor, hard
    supervisor.wait()
    assert ws.jobs.get(jobs[0].id).state == "RUNNING"  # its process still runs
    os.killpg(job_pid, signal.SIGKILL)
    time.sleep(0.2)
    failed = ws.jobs.get(jobs[0].id)
    assert failed.state == "FAILED" and "supervising the job ended" in (failed.error or "")


def _pid(ws: Workspace, job_id: int) -> int | None:
    import sqlalchemy as sa

    from pmle.storage import schema as t

    with ws.engine.connect() as conn:
        return conn.execute(
            sa.select(t.training_jobs.c.pid).where(t.training_jobs.c.id == job_id)
        ).scalar()


def test_ray_runner(ws: Workspace, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    script = _script(tmp_path, "hello.py", "import os; print('RAY', os.environ['PMLE_RUN_ID'])")
    ray.init(num_cpus=2, object_store_memory=100 * 1024**2, include_dashboard=False)
    try:
        lines: list[str] = []
        job = ws.jobs.run(str(script), runner="ray", cpus=1, on_output=lines.append)
    finally:
        ray.shutdown()
    assert job.state == "SUCCEEDED" and job.runner == "ray"
    assert f"RAY {job.run_id}" in lines
