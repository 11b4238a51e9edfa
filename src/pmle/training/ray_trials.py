"""Function trials of a tuning study as Ray tasks (`study.optimize(f, runner="ray")`).

The owner keeps asking and telling Optuna; each trial's objective runs in a Ray worker, which
opens the same workspace, attaches to the trial's tracking run and to the Optuna trial (through
the same journal in the metadata database), so `trial.report` and early stopping work there
too. The objective must be picklable (a module-level function), and the workspace must be on a
file system the workers share (a local Ray always does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmle.training.tuning import Study, Trial

__all__ = ["remote_objective"]


def _in_worker(
    root: str, study_name: str, trial_id: int, number: int, params: dict[str, Any],
    run_id: int, metric: str, objective: Callable[[Trial], float | None],
) -> float | None:  # fmt: skip
    import optuna

    from pmle.training.journal import journal_storage
    from pmle.training.tuning import Trial
    from pmle.workspace import open_workspace

    ws = open_workspace(root)
    try:
        study = optuna.load_study(study_name=study_name, storage=journal_storage(ws.engine))
        run = ws.tracking.attach(run_id)
        trial = Trial(number, params, run, optuna.trial.Trial(study, trial_id))
        trial._metric = metric
        return objective(trial)
    finally:
        ws.close()


def remote_objective(ray: Any, study: Study, objective: Callable[[Trial], float | None]) -> Any:
    """A trial runner for Study._loop that runs `objective` as a Ray task."""
    import optuna

    task = ray.remote(num_cpus=1, max_retries=0)(_in_worker)

    def call(trial: Trial, otrial: Any) -> float | None:
        ref = task.remote(
            str(study._ws.root), study.name, otrial._trial_id, trial.number, trial.params,
            trial.run.id, study.metric, objective,
        )  # fmt: skip
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, optuna.TrialPruned):
                raise exc.cause from None
            raise RuntimeError(str(exc.cause or exc)) from None

    return call
