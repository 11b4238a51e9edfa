"""Tuning studies (Vertex AI Vizier–like) on Optuna, kept in the metadata database.

    study = ws.tuning.create_study(
        "churn-lgbm",
        {"lr": {"type": "double", "min": 1e-3, "max": 0.3, "scale": "log"},
         "leaves": {"type": "integer", "min": 8, "max": 64}},
        metric="auc", goal="maximize", max_trials=20, parallel=2, early_stopping="median",
    )
    study.optimize(objective)      # objective(trial) → the metric's value
    study.optimize_job("train.py") # or: each trial a training job, given --lr=… --leaves=…

- **Algorithms**: `bayesian` (Optuna's TPE, the default), `random`, `grid`.
- **Each trial is a tracking run** in the study's experiment (`trial-0007`), with the trial's
  parameters as run parameters and the metric logged on it, so trials compare like any runs.
- **Early stopping** (`early_stopping="median"`): `trial.report(value, step)` logs an
  intermediate value and stops the trial (PRUNED) when it is worse than the median of the
  earlier trials at that step.
- **Parallel trials**: `parallel` trials run at once (threads here; each job trial is its own
  process; `runner="ray"` runs function trials as Ray tasks).
- **Resumable**: the study lives in the metadata database (Optuna's journal). Optimizing it
  again — after its process was killed — marks the trials that process left running as FAILED
  (interrupted, not counted) and runs only the trials still missing to reach `max_trials`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmle._util import check_name, owner_alive, this_host
from pmle.errors import AlreadyExists, InvalidInput, NotFound

if TYPE_CHECKING:
    from pmle.tracking.runs import Run
    from pmle.training.space import Parameter
    from pmle.workspace import Workspace

__all__ = ["ALGORITHMS", "Studies", "Study", "Trial", "TrialInfo"]

ALGORITHMS = ("bayesian", "random", "grid")
GOALS = ("maximize", "minimize")
_CONFIG = "pmle"
_OWNER = "pmle_owner"
_INTERRUPTED = "pmle_interrupted"


class Trial:
    """What an objective gets: the trial's parameters, its tracking run, and `report` for
    intermediate values (which may stop the trial early)."""

    def __init__(self, number: int, params: dict[str, Any], run: Run, optuna_trial: Any) -> None:
        self.number = number
        self.params = params
        self.run = run
        self._trial = optuna_trial
        self._metric: str = ""

    def report(self, value: float, step: int) -> None:
        """Log an intermediate value of the study's metric at `step`; raises
        `optuna.TrialPruned` when early stopping decides the trial is not worth finishing."""
        import optuna

        self.run.log_metric(self._metric, value, step=step)
        self._trial.report(float(value), step)
        if self._trial.should_prune():
            raise optuna.TrialPruned(f"stopped early at step {step}")


@dataclass(frozen=True)
class TrialInfo:
    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING
    params: dict[str, Any]
    value: float | None
    run_id: int | None
    error: str | None
    duration_s: float | None
    started_at: Any = None
    ended_at: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "params": self.params,
            "value": self.value,
            "run_id": self.run_id,
            "error": self.error,
            "duration_s": self.duration_s,
        }


class Study:
    """One tuning study (see the module docstring)."""

    def __init__(self, ws: Workspace, optuna_study: Any) -> None:
        from pmle.training.space import parse_space

        self._ws = ws
        self._study = optuna_study
        config = dict(optuna_study.user_attrs.get(_CONFIG) or {})
        self.name: str = optuna_study.study_name
        self.config = config
        self.metric: str = config["metric"]
        self.goal: str = config["goal"]
        self.algorithm: str = config["algorithm"]
        self.max_trials: int = int(config["max_trials"])
        self.parallel: int = int(config["parallel"])
        self.early_stopping: str | None = config.get("early_stopping")
        self.experiment: str = config["experiment"]
        self.parameters: list[Parameter] = parse_space(config["space"])
        self._lock = threading.Lock()
        self._in_flight = 0

    def __repr__(self) -> str:
        return f"Study({self.name!r}, {self.metric} {self.goal}, {len(self.trials)} trials)"

    # -- reading ------------------------------------------------------------------------------

    @property
    def trials(self) -> list[TrialInfo]:
        return [_info(t) for t in self._study.get_trials(deepcopy=False)]

    @property
    def finished(self) -> int:
        """Trials that count toward max_trials: complete, pruned, failed (not interrupted)."""
        ended = {"COMPLETE", "PRUNED", "FAIL"}
        return sum(
            1
            for t in self._study.get_trials(deepcopy=False)
            if t.state.name in ended and not t.system_attrs.get(_INTERRUPTED)
        )

    @property
    def best_trial(self) -> TrialInfo:
        done = [t for t in self.trials if t.state == "COMPLETE" and t.value is not None]
        if not done:
            raise NotFound(f"study {self.name} has no completed trial yet")
        pick = max if self.goal == "maximize" else min
        return pick(done, key=lambda t: t.value)  # type: ignore[arg-type,return-value]

    def to_dict(self) -> dict[str, Any]:
        trials = self.trials
        best = None
        try:
            best = self.best_trial.to_dict()
        except NotFound:
            pass
        return {
            "name": self.name,
            **self.config,
            "trials": len(trials),
            "finished": self.finished,
            "best": best,
        }

    # -- optimizing ---------------------------------------------------------------------------

    def optimize(
        self,
        objective: Callable[[Trial], float | None],
        *,
        runner: str = "local",
        ray_address: str | None = None,
        on_trial: Callable[[TrialInfo], None] | None = None,
    ) -> Study:
        """Run trials of `objective` until `max_trials` have finished (resuming a study
        that ran before), `parallel` at a time."""
        if runner not in {"local", "ray"}:
            raise InvalidInput(f"unknown runner {runner!r}", hint="local or ray")
        if runner == "ray":
            from pmle.training.ray_trials import remote_objective

            with _ray(ray_address) as ray:
                self._loop(remote_objective(ray, self, objective), on_trial)
        else:
            self._loop(lambda trial, _otrial: objective(trial), on_trial)
        return self

    def optimize_job(
        self,
        target: str,
        args: Sequence[str] = (),
        *,
        on_trial: Callable[[TrialInfo], None] | None = None,
        **job_options: Any,
    ) -> Study:
        """Each trial a training job (`pmle jobs run`): TARGET ARGS --name=value… for the
        trial's parameters; the trial's value is the metric its job logs on its run."""

        def run_job(trial: Trial, _otrial: Any) -> float | None:
            flags = [f"--{name}={value}" for name, value in trial.params.items()]
            job = self._ws.jobs.run(
                target,
                [*args, *flags],
                experiment=self.experiment,
                run=trial.run,
                **job_options,
            )
            if job.state != "SUCCEEDED":
                raise RuntimeError(f"job {job.id} {job.state}: {(job.error or '').splitlines()[0]}")
            return None  # read from the run

        self._loop(run_job, on_trial)
        return self

    def _loop(
        self,
        call: Callable[[Trial, Any], float | None],
        on_trial: Callable[[TrialInfo], None] | None,
    ) -> None:
        self._interrupt_orphans()
        errors: list[BaseException] = []

        def worker() -> None:
            while not errors:
                with self._lock:
                    if self.finished + self._in_flight >= self.max_trials:
                        return
                    self._in_flight += 1
                    otrial = self._ask()
                try:
                    info = self._run_trial(otrial, call)
                    if on_trial is not None:
                        on_trial(info)
                except BaseException as exc:  # interrupted: stop every worker
                    errors.append(exc)
                finally:
                    with self._lock:
                        self._in_flight -= 1

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(self.parallel)]
        for w in workers:
            w.start()
        try:
            for w in workers:
                while w.is_alive():
                    w.join(0.2)
        except KeyboardInterrupt:
            errors.append(KeyboardInterrupt())
            raise
        if errors:
            raise errors[0]

    def _ask(self) -> Any:
        otrial = self._study.ask({p.name: p.distribution() for p in self.parameters})
        self._study._storage.set_trial_system_attr(
            otrial._trial_id, _OWNER, [this_host(), os.getpid()]
        )
        return otrial

    def _run_trial(self, otrial: Any, call: Callable[[Trial, Any], float | None]) -> TrialInfo:
        import optuna

        number = otrial.number
        run = self._ws.tracking.start_run(
            self.experiment,
            f"trial-{number:04d}",
            params=otrial.params,
            tags={"pmle.study": self.name, "pmle.trial": number},
        )
        self._study._storage.set_trial_system_attr(otrial._trial_id, "pmle_run", run.id)
        trial = Trial(number, dict(otrial.params), run, otrial)
        trial._metric = self.metric
        try:
            value = call(trial, otrial)
            if value is None:
                value = self._ws.tracking.run(run.id).metrics.get(self.metric)
                if value is None:
                    raise RuntimeError(f"the trial reported no value for {self.metric!r}")
            else:  # the final value, after any intermediate ones (reported here or remotely)
                curve = self._ws.tracking.metric_history(run.id, self.metric)
                run.log_metric(self.metric, value, step=curve[-1].step + 1 if curve else 0)
            value = float(value)
            if math.isnan(value):
                raise RuntimeError(f"the trial's {self.metric} is NaN")
        except optuna.TrialPruned as exc:
            self._study.tell(otrial, state=optuna.trial.TrialState.PRUNED)
            run.set_tag("pmle.pruned", str(exc) or "early stopping")
            run.end("FINISHED")
        except (KeyboardInterrupt, SystemExit):
            self._study._storage.set_trial_system_attr(otrial._trial_id, _INTERRUPTED, True)
            self._study.tell(otrial, state=optuna.trial.TrialState.FAIL)
            run.end("KILLED", "interrupted")
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._study._storage.set_trial_user_attr(otrial._trial_id, "error", error)
            self._study.tell(otrial, state=optuna.trial.TrialState.FAIL)
            run.end("FAILED", error)
        else:
            self._study.tell(otrial, value)
            run.end("FINISHED")
        return _info(self._study._storage.get_trial(otrial._trial_id))

    def _interrupt_orphans(self) -> None:
        """Trials left RUNNING by a process that has gone are FAILED, marked interrupted
        (they do not count toward max_trials: they run again)."""
        import optuna

        for t in self._study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            owner = t.system_attrs.get(_OWNER) or [None, None]
            host, pid = owner[0], owner[1]
            if pid == os.getpid() and host == this_host():
                continue
            if owner_alive(host, pid):
                continue
            storage = self._study._storage
            storage.set_trial_system_attr(t._trial_id, _INTERRUPTED, True)
            storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
            if self.algorithm == "grid":  # its grid point is still to be tried
                self._study.enqueue_trial(dict(t.params))

    # -- the best model -----------------------------------------------------------------------

    def register_best(self, model_name: str) -> str:
        """Register the best trial's model (its run's `model` artifact, a pmle model folder,
        as autologging or a training job leaves it) as a new version of `model_name`."""
        best = self.best_trial
        if best.run_id is None:
            raise NotFound(f"trial {best.number} has no run")
        info = self._ws.tracking.run(best.run_id)
        artifact = next((a for a in info.artifacts if a["path"] == "model" and a["is_dir"]), None)
        if artifact is None:
            raise NotFound(
                f"the best trial ({best.number}) kept no model",
                hint="log one in the objective: trial.run.autolog() or a training job",
            )
        folder = self._ws.artifacts.materialize_tree(artifact["key"])
        version = self._ws.models.register(
            model_name,
            str(folder),
            execution="TuningStudy",
            execution_properties={"study": self.name, "trial": best.number},
        )
        self._ws.tracking.log_model(best.run_id, version.ref)
        return version.ref


def _info(t: Any) -> TrialInfo:
    duration = None
    if t.datetime_start is not None and t.datetime_complete is not None:
        duration = (t.datetime_complete - t.datetime_start).total_seconds()
    return TrialInfo(
        number=t.number,
        state=t.state.name,
        params=dict(t.params),
        value=None if t.values is None else float(t.values[0]),
        run_id=t.system_attrs.get("pmle_run"),
        error=t.user_attrs.get("error")
        or ("interrupted" if t.system_attrs.get(_INTERRUPTED) else None),
        duration_s=duration,
        started_at=t.datetime_start,
        ended_at=t.datetime_complete,
    )


class Studies:
    """The tuning studies of a workspace."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def _storage(self) -> Any:
        import optuna

        from pmle.training.journal import journal_storage

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # pmle reports trials itself
        return journal_storage(self._ws.engine)

    def create_study(
        self,
        name: str,
        space: Mapping[str, Any],
        *,
        metric: str,
        goal: str = "maximize",
        algorithm: str = "bayesian",
        max_trials: int = 20,
        parallel: int = 1,
        early_stopping: str | None = None,
        experiment: str | None = None,
        seed: int | None = None,
    ) -> Study:
        import optuna

        from pmle.training.space import grid_values, parse_space

        check_name(name, "study name")
        parameters = parse_space(space)
        goal = goal.lower()
        if goal not in GOALS:
            raise InvalidInput(f"goal {goal!r}", hint="maximize or minimize")
        algorithm = algorithm.lower()
        if algorithm not in ALGORITHMS:
            raise InvalidInput(f"unknown algorithm {algorithm!r}", hint=", ".join(ALGORITHMS))
        grid: list[dict[str, Any]] = []
        if algorithm == "grid":
            import itertools

            values = grid_values(parameters)  # a clear error for spaces without a finite grid
            grid = [
                dict(zip(values, combo, strict=True))
                for combo in itertools.product(*values.values())
            ]
            max_trials = min(max_trials, len(grid))  # every point once, at most
        if early_stopping not in (None, "median"):
            raise InvalidInput(f"unknown early stopping {early_stopping!r}", hint="median")
        if max_trials < 1 or parallel < 1:
            raise InvalidInput("max_trials and parallel are at least 1")
        if not isinstance(metric, str) or not metric:
            raise InvalidInput("name the metric the study optimizes")
        storage = self._storage()
        if name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
            raise AlreadyExists(f"study {name!r} exists", hint=f"pmle tune run {name} resumes it")
        config = {
            "space": {p.name: p.to_dict() for p in parameters},
            "metric": metric,
            "goal": goal,
            "algorithm": algorithm,
            "max_trials": max_trials,
            "parallel": parallel,
            "early_stopping": early_stopping,
            "experiment": check_name(experiment or name, "experiment name"),
            "seed": seed,
            "created": time.time(),
        }
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction=goal,
            sampler=_sampler(config, parameters),
            pruner=_pruner(early_stopping),
        )
        study.set_user_attr(_CONFIG, config)
        for point in grid[:max_trials]:  # grid search: the points, in order
            study.enqueue_trial(point)
        return Study(self._ws, study)

    def study(self, name: str, *, storage: Any = None) -> Study:
        import optuna

        from pmle.training.space import parse_space

        storage = storage or self._storage()
        try:  # the settings first, straight from the storage (no study object twice)
            config = storage.get_study_user_attrs(storage.get_study_id_from_name(name)).get(_CONFIG)
        except KeyError:
            raise NotFound(f"no tuning study named {name!r}", hint="pmle tune list") from None
        if not config:
            raise NotFound(f"{name!r} is not a pmle tuning study")
        parameters = parse_space(config["space"])
        study = optuna.load_study(
            study_name=name,
            storage=storage,
            sampler=_sampler(config, parameters),
            pruner=_pruner(config.get("early_stopping")),
        )
        return Study(self._ws, study)

    def studies(self) -> list[Study]:
        import optuna

        storage = self._storage()  # one replay of the journal for every study
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage))
        out = []
        for name in names:
            try:
                out.append(self.study(name, storage=storage))
            except NotFound:
                continue
        return out


def _sampler(config: Mapping[str, Any], parameters: list[Parameter]) -> Any:
    import optuna

    seed = config.get("seed")
    if config["algorithm"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config["algorithm"] == "grid":
        # the grid's points are queued trials (Optuna's GridSampler stops the study from
        # inside its own optimize loop, which ask-and-tell does not have)
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=min(10, int(config["max_trials"]) // 2 or 1)
    )


def _pruner(early_stopping: str | None) -> Any:
    import optuna

    if early_stopping == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    return optuna.pruners.NopPruner()


def _ray(address: str | None) -> Any:
    from pmle.compute.ray_runtime import ray_session

    return ray_session("tuning trials with runner='ray'", address=address)
