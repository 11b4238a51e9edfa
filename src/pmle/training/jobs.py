"""Custom training jobs (Vertex AI CustomJob–like): the user's training code in its own
process, with the workspace injected, its logs and model kept, and a tracking run for it.

    job = ws.jobs.run("train.py", args=["--epochs", "3"], data="churn@2", register="churn")

The process gets Vertex AI's environment — `AIP_MODEL_DIR` (save the model there),
`AIP_CHECKPOINT_DIR`, `AIP_TENSORBOARD_LOG_DIR`, `AIP_TRAINING_DATA_URI` (the dataset version's
Parquet file, with `data`), `AIP_DATA_FORMAT`, `CLOUD_ML_JOB` — and pmle's: `PMLE_WORKSPACE`
and `PMLE_RUN_ID`, so `pmle.job_run()` logs to the job's run. stdout and stderr go to the job's
log file. When the process exits, what it left in `AIP_MODEL_DIR` becomes the run's `model`
artifact and, with `register`, a new model version (a pmle model folder, as
`pmle.models.save_model` writes one) with lineage from the data.

Resources: `cpus` pins the process to that many cores and sets the math libraries' thread
counts, `memory` caps its address space (the job fails with a MemoryError beyond it), `gpus`
sets CUDA_VISIBLE_DEVICES (an error when the machine has fewer). `runner="ray"` runs the same
process as a Ray task with those resources (on a cluster the job folder must be on a shared
file system).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, owner_alive, this_host, utcnow
from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.storage import schema as t
from pmle.training.job_process import (
    failure,
    follow_log,
    gpu_count,
    limits,
    parse_memory,
    stop_group,
)

if TYPE_CHECKING:
    from pmle.workspace import Workspace

__all__ = ["ENDED", "Job", "Jobs", "parse_memory"]

ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
LOG_FILE = "job.log"


@dataclass(frozen=True)
class Job:
    id: int
    name: str
    command: list[str]
    state: str
    runner: str
    resources: dict[str, Any]
    run_id: int | None
    job_dir: Path
    data: str | None
    model: str | None
    exit_code: int | None
    error: str | None
    created_at: datetime
    ended_at: datetime | None

    @property
    def log_path(self) -> Path:
        return self.job_dir / LOG_FILE

    @property
    def model_dir(self) -> Path:
        return self.job_dir / "model"

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.created_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "command": self.command,
            "state": self.state,
            "runner": self.runner,
            "resources": self.resources,
            "run_id": self.run_id,
            "job_dir": str(self.job_dir),
            "data": self.data,
            "model": self.model,
            "exit_code": self.exit_code,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def _command(target: str, args: Sequence[str]) -> list[str]:
    """The argv after the interpreter: a script file, or `-m module`."""
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise InvalidInput(f"no training script at {target}")
        return [str(path.resolve()), *args]
    if not all(part.isidentifier() for part in target.split(".")):
        raise InvalidInput(
            f"{target!r} is neither a script nor a module name", hint="train.py or pkg.train"
        )
    return ["-m", target, *args]


class Jobs:
    """The training jobs of a workspace."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._engine = ws.engine

    # -- running ------------------------------------------------------------------------------

    def run(
        self,
        target: str,
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        experiment: str = "jobs",
        data: str | None = None,
        register: str | None = None,
        runner: str = "local",
        ray_address: str | None = None,
        cpus: int | None = None,
        memory: str | int | None = None,
        gpus: int | None = None,
        env: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        parent_run: Any = None,
        run: Any = None,
        on_output: Callable[[str], None] | None = None,
    ) -> Job:
        """Run `target` (a .py file or a module) to the end; the finished Job. `on_output`
        receives the log's lines as they come; `run` is a tracking run to use for the job
        (a tuning trial's) instead of a new one in `experiment`."""
        from pmle._util import check_name

        if runner not in {"local", "ray"}:
            raise InvalidInput(f"unknown runner {runner!r}", hint="local or ray")
        command = _command(target, list(args))
        job_name = check_name(name, "job name") if name else Path(target).stem.replace(".", "-")
        resources = self._resources(cpus, parse_memory(memory), gpus, runner)
        data_path = None
        data_ref = None
        if data is not None:
            version = self._ws.datasets.get(data)
            data_ref = version.ref
            data_path = self._ws.datasets.path(version)
        if register is not None:
            check_name(register, "model name")
        if run is None:
            run = self._ws.tracking.start_run(
                experiment, parent=parent_run, params=params, tags={"pmle.job": job_name}
            )
        else:
            run.set_tag("pmle.job", job_name)
        if data_ref is not None:
            run.log_dataset(data_ref)
        job_id, job_dir = self._create(job_name, command, runner, resources, run.id, data_ref)
        run.set_tag("pmle.job_id", job_id)
        environment = self._environment(job_id, job_name, job_dir, run.id, data_path, resources)
        environment.update(env or {})
        try:
            exit_code = self._execute(
                job_id, command, environment, job_dir, resources, runner, ray_address, on_output
            )
        except BaseException as exc:
            stopped = isinstance(exc, KeyboardInterrupt)
            error = f"{type(exc).__name__}: {exc}"
            self._finish(job_id, "CANCELLED" if stopped else "FAILED", None, error)
            run.end("KILLED" if stopped else "FAILED", error)
            raise
        return self._after(job_id, exit_code, run, register)

    def _resources(
        self, cpus: int | None, memory: int | None, gpus: int | None, runner: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if cpus is not None:
            if cpus < 1:
                raise InvalidInput("cpus must be at least 1")
            available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
            if runner == "local" and available and cpus > available:
                raise InvalidInput(f"the job asks for {cpus} CPUs; this machine has {available}")
            out["cpus"] = cpus
        if memory is not None:
            if memory < 64 * 1024**2:
                raise InvalidInput("memory below 64M cannot start Python", hint="e.g. 512M or 2G")
            out["memory"] = memory
        if gpus:
            if gpus < 0:
                raise InvalidInput("gpus cannot be negative")
            if runner == "local":
                have = gpu_count()
                if gpus > have:
                    raise InvalidInput(
                        f"the job asks for {gpus} GPU(s); this machine has {have}",
                        hint="leave --gpus out, or use --runner ray on a cluster with GPUs",
                    )
            out["gpus"] = gpus
        return out

    def _create(
        self,
        name: str,
        command: list[str],
        runner: str,
        resources: dict[str, Any],
        run_id: int,
        data: str | None,
    ) -> tuple[int, Path]:
        base = self._ws.state_dir / "jobs"
        with self._engine.begin() as conn:
            res = conn.execute(
                t.training_jobs.insert().values(
                    name=name,
                    command=command,
                    state="RUNNING",
                    runner=runner,
                    resources=resources,
                    run_id=run_id,
                    job_dir="",
                    data=data,
                    owner_host=this_host(),
                    owner_pid=os.getpid(),
                    created_at=utcnow(),
                )
            )
            job_id = int(res.inserted_primary_key[0])  # type: ignore[index]
            job_dir = base / str(job_id)
            conn.execute(
                t.training_jobs.update()
                .where(t.training_jobs.c.id == job_id)
                .values(job_dir=str(job_dir))
            )
        for sub in ("model", "checkpoints", "logs"):
            (job_dir / sub).mkdir(parents=True, exist_ok=True)
        return job_id, job_dir

    def _environment(
        self,
        job_id: int,
        name: str,
        job_dir: Path,
        run_id: int,
        data_path: Path | None,
        resources: dict[str, Any],
    ) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PMLE_WORKSPACE=str(self._ws.root),
            PMLE_RUN_ID=str(run_id),
            PMLE_JOB_ID=str(job_id),
            AIP_MODEL_DIR=str(job_dir / "model"),
            AIP_CHECKPOINT_DIR=str(job_dir / "checkpoints"),
            AIP_TENSORBOARD_LOG_DIR=str(job_dir / "logs"),
            CLOUD_ML_JOB=json.dumps({"job_id": job_id, "display_name": name}),
            PYTHONUNBUFFERED="1",
        )
        if data_path is not None:
            env.update(AIP_TRAINING_DATA_URI=str(data_path), AIP_DATA_FORMAT="parquet")
        if "cpus" in resources:
            threads = str(resources["cpus"])
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                env[var] = threads
        if "gpus" in resources:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(resources["gpus"]))
        return env

    def _execute(
        self,
        job_id: int,
        command: list[str],
        env: dict[str, str],
        job_dir: Path,
        resources: dict[str, Any],
        runner: str,
        ray_address: str | None,
        on_output: Callable[[str], None] | None,
    ) -> int:
        argv = [sys.executable, *command]
        log_path = job_dir / LOG_FILE
        if runner == "ray":
            from pmle.training.ray_jobs import run_on_ray

            return run_on_ray(argv, env, log_path, resources, ray_address, on_output)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own process group: cancel stops all of it
                preexec_fn=limits(resources),  # only pins CPUs and caps memory
            )
        with self._engine.begin() as conn:
            conn.execute(
                t.training_jobs.update()
                .where(t.training_jobs.c.id == job_id)
                .values(pid=process.pid)
            )
        try:
            follow_log(log_path, lambda: process.poll() is not None, on_output)
        except BaseException:
            stop_group(process.pid)
            process.wait()
            raise
        return process.wait()

    def _after(self, job_id: int, exit_code: int, run: Any, register: str | None) -> Job:
        job = self.get(job_id)
        if job.state == "CANCELLED":  # cancelled from elsewhere while it ran
            run.end("KILLED", "cancelled")
            return job
        if exit_code != 0:
            error = failure(exit_code, job.log_path)
            self._finish(job_id, "FAILED", exit_code, error)
            run.end("FAILED", error)
            return self.get(job_id)
        model_ref = None
        try:
            if any(job.model_dir.iterdir()):
                run.log_artifact(job.model_dir, "model")
                if register is not None:
                    model_ref = self._register(job, register, run)
        except Exception as exc:
            error = f"the job succeeded, but its model could not be kept: {exc}"
            self._finish(job_id, "FAILED", exit_code, error)
            run.end("FAILED", error)
            return self.get(job_id)
        if register is not None and model_ref is None:
            error = "the job left no model in AIP_MODEL_DIR to register"
            self._finish(job_id, "FAILED", exit_code, error)
            run.end("FAILED", error)
            return self.get(job_id)
        self._finish(job_id, "SUCCEEDED", exit_code, None, model=model_ref)
        run.end("FINISHED")
        return self.get(job_id)

    def _register(self, job: Job, name: str, run: Any) -> str:
        if not _is_pmle_model(job.model_dir):
            raise InvalidInput(
                "AIP_MODEL_DIR holds no pmle model folder",
                hint="save it with pmle.models.save_model(model, os.environ['AIP_MODEL_DIR'])",
            )
        inputs = []
        if job.data is not None:
            data = self._ws.datasets.get(job.data)
            if data.lineage_artifact_id is not None:
                inputs.append(data.lineage_artifact_id)
        version = self._ws.models.register(
            name,
            str(job.model_dir),
            inputs=inputs,
            execution="CustomJob",
            execution_properties={"job_id": job.id, "run": run.ref},
        )
        run.log_model(version.ref)
        return version.ref

    def _finish(
        self,
        job_id: int,
        state: str,
        exit_code: int | None,
        error: str | None,
        model: str | None = None,
    ) -> None:
        j = t.training_jobs
        with self._engine.begin() as conn:
            conn.execute(
                j.update()
                .where(j.c.id == job_id, j.c.state == "RUNNING")
                .values(
                    state=state, exit_code=exit_code, error=error, model=model, ended_at=utcnow()
                )
            )

    # -- reading and cancelling ----------------------------------------------------------------

    def get(self, job_id: int | str) -> Job:
        import sqlalchemy as sa

        try:
            key = int(job_id)
        except (TypeError, ValueError):
            raise InvalidInput(f"a job is named by its number, not {job_id!r}") from None
        self.recover()
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(t.training_jobs).where(t.training_jobs.c.id == key)
            ).first()
        if row is None:
            raise NotFound(f"no training job {key}", hint="pmle jobs list")
        return _job(row)

    def list(self, *, state: str | None = None, limit: int = 50, offset: int = 0) -> list[Job]:
        """Jobs, newest first: `limit` of them from `offset` on."""
        import sqlalchemy as sa

        self.recover()
        j = t.training_jobs
        query = sa.select(j).order_by(j.c.id.desc()).limit(limit).offset(offset)
        if state is not None:
            query = query.where(j.c.state == state.upper())
        with self._engine.connect() as conn:
            return [_job(row) for row in conn.execute(query).all()]

    def logs(self, job_id: int | str) -> str:
        job = self.get(job_id)
        try:
            return job.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def cancel(self, job_id: int | str) -> Job:
        """Stop a running job (its whole process group) and mark it CANCELLED."""
        job = self.get(job_id)
        if job.state != "RUNNING":
            raise Conflict(f"job {job.id} is {job.state}, not running")
        import sqlalchemy as sa

        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(t.training_jobs.c.pid, t.training_jobs.c.owner_host).where(
                    t.training_jobs.c.id == job.id
                )
            ).first()
        self._finish(job.id, "CANCELLED", None, "cancelled")
        if row is not None and row.pid and row.owner_host == this_host():
            stop_group(int(row.pid))
        elif job.runner == "ray":
            (job.job_dir / "CANCEL").write_text("cancel", encoding="utf-8")
        return self.get(job.id)

    def recover(self) -> None:
        """Jobs whose supervising pmle process and job process have both gone are FAILED."""
        import sqlalchemy as sa

        j = t.training_jobs
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(j.c.id, j.c.owner_host, j.c.owner_pid, j.c.pid).where(
                    j.c.state == "RUNNING", j.c.owner_host == this_host()
                )
            ).all()
        for row in rows:
            if row.owner_pid == os.getpid() or owner_alive(row.owner_host, row.owner_pid):
                continue
            if row.pid and owner_alive(row.owner_host, row.pid):
                continue
            self._finish(row.id, "FAILED", None, "the pmle process supervising the job ended")


def _is_pmle_model(folder: Path) -> bool:
    from pmle.models.format import MANIFEST_FILE

    return (folder / MANIFEST_FILE).is_file()


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        name=row.name,
        command=list(row.command),
        state=row.state,
        runner=row.runner,
        resources=dict(row.resources or {}),
        run_id=row.run_id,
        job_dir=Path(row.job_dir),
        data=row.data,
        model=row.model,
        exit_code=row.exit_code,
        error=row.error,
        created_at=as_utc(row.created_at),
        ended_at=as_utc(row.ended_at),
    )


def command_line(job: Job) -> str:
    return shlex.join(["python", *job.command])
