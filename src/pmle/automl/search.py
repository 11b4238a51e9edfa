"""The search: portfolio first, then Optuna tuning with the time left, then ensemble selection.

Every candidate is scored on out-of-fold predictions with the objective; the deadline is
checked before each candidate and inside training, so the budget holds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.automl import ensemble_selection
from pmle.automl.portfolio import (
    PORTFOLIO,
    Config,
    clip_to_space,
    tuned_config,
    tuning_distributions,
)
from pmle.automl.trainer import Fitted, Folds, OutOfTime, fit_candidate, make_folds
from pmle.errors import InvalidInput
from pmle.models.ensemble import link, scores_from_proba

if TYPE_CHECKING:
    import numpy as np

    from pmle.automl.objectives import Objective
    from pmle.automl.problem import Problem

#: Called with an event name ("start", "candidate", "skipped", "ensemble") and a payload dict.
OnEvent = Callable[[str, dict[str, Any]], None]

MAX_ENSEMBLE_POOL = 12
#: How much longer than a LightGBM candidate each family usually takes (seen on 1k–50k rows).
_COST_VS_LIGHTGBM = {"catboost": 6.0, "extra_trees": 2.0, "random_forest": 2.0, "linear": 0.5}


@dataclass
class LeaderboardEntry:
    """One fitted candidate."""

    name: str
    family: str
    score: float
    seconds: float
    iterations: list[int]
    weight: float = 0.0
    cut_by_deadline: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


@dataclass
class SearchResult:
    """What the search found."""

    leaderboard: list[LeaderboardEntry]
    chosen: list[tuple[Fitted, float]]  # candidates with ensemble weight > 0
    ensemble_score: float
    folds: Folds
    seconds: float
    tuning_trials: int = 0
    notes: list[str] = field(default_factory=list)


def _ordered(entries: list[LeaderboardEntry], objective: Objective) -> list[LeaderboardEntry]:
    return sorted(entries, key=lambda e: -e.score if objective.greater_is_better else e.score)


def search(
    problem: Problem,
    x: np.ndarray,
    categorical: list[int],
    objective: Objective,
    *,
    deadline: float,
    n_jobs: int,
    seed: int,
    on_event: OnEvent | None = None,
    tune: bool = True,
) -> SearchResult:
    """Fit candidates until `deadline` (a time.monotonic() value) and build the ensemble."""
    emit = on_event or (lambda _e, _p: None)
    start = time.monotonic()
    y = problem.y if objective.target_transform is None else _transformed(problem.y, objective)
    folds = make_folds(problem.y, problem.task, seed, len(y))
    emit(
        "start",
        {
            "strategy": folds.strategy,
            "rows": len(y),
            "features": x.shape[1],
            "deadline_s": round(deadline - start, 1),
        },
    )
    fitted: list[Fitted] = []
    times: dict[str, list[float]] = {}

    # The first model may overrun the budget (up to twice it, counted from the search's start)
    # rather than leave the user with nothing: a busy machine slows everything down.
    first_deadline = max(deadline, start) + max(deadline - start, 5.0)

    def run(config: Config) -> Fitted | None:
        remaining = deadline - time.monotonic()
        # Until a family has run once, guess its time from LightGBM's.
        factor = _COST_VS_LIGHTGBM.get(config.family, 1.0)
        family_times = times.get(config.family) or [t * factor for t in times.get("lightgbm", [])]
        if fitted and family_times and remaining < 0.5 * statistics.median(family_times):
            emit("skipped", {"name": config.name, "reason": "not enough time left"})
            return None
        try:
            result = fit_candidate(
                config,
                x,
                y,
                folds,
                task=problem.task,
                n_classes=problem.n_classes,
                objective=objective,
                categorical=categorical,
                weight=problem.weight,
                deadline=deadline if fitted else first_deadline,
                n_jobs=n_jobs,
                seed=seed,
            )
        except OutOfTime:
            return None
        fitted.append(result)
        times.setdefault(config.family, []).append(result.seconds)
        emit(
            "candidate",
            {
                "name": config.name,
                "family": config.family,
                "score": result.score,
                "seconds": result.seconds,
                "metric": objective.metric,
            },
        )
        return result

    from pmle.automl import catboost_family

    for config in PORTFOLIO:
        if time.monotonic() >= (deadline if fitted else first_deadline):
            break
        if config.family == "catboost" and not catboost_family.available():
            continue
        if config.family == "linear" and problem.task == "regression" and len(y) > 200_000:
            continue
        run(config)
    if not fitted:
        raise InvalidInput(
            "the time budget is too small to fit even one model on this data",
            hint="give a larger --budget",
        )
    trials = _tune(run, fitted, objective, deadline, seed) if tune else 0

    pool = sorted(fitted, key=lambda f: -f.score if objective.greater_is_better else f.score)
    pool = pool[:MAX_ENSEMBLE_POOL]
    covered = folds.covered
    w = problem.weight[covered] if problem.weight is not None else None
    task = problem.task
    if task == "regression":
        preds = [f.oof[covered] for f in pool]
    else:
        preds = [scores_from_proba(f.oof[covered], task) for f in pool]

    def to_pred(scores: np.ndarray) -> np.ndarray:
        return link(scores, task)

    weights = ensemble_selection.select(preds, y[covered], objective, w, link=to_pred)
    weights = _prune(weights)
    blended = sum(p * wt for p, wt in zip(preds, weights, strict=True))
    ensemble_score = objective.score(y[covered], to_pred(blended), w)
    chosen = [(f, wt) for f, wt in zip(pool, weights, strict=True) if wt > 0]
    emit(
        "ensemble",
        {
            "score": ensemble_score,
            "members": [f.config.name for f, _ in chosen],
            "metric": objective.metric,
        },
    )
    weight_of = {id(f): wt for f, wt in chosen}
    board = [
        LeaderboardEntry(
            f.config.name,
            f.config.family,
            f.score,
            f.seconds,
            f.iterations,
            weight_of.get(id(f), 0.0),
            f.stopped_early_by_deadline,
        )
        for f in fitted
    ]
    return SearchResult(
        _ordered(board, objective), chosen, ensemble_score, folds, time.monotonic() - start, trials
    )


def _prune(weights: list[float], floor: float = 0.03) -> list[float]:
    """Drop members whose weight is below `floor` (they cost prediction time for a change in
    the ensemble's output that is within noise) and renormalise the rest."""
    kept = [wt if wt >= floor else 0.0 for wt in weights]
    total = sum(kept)
    return [wt / total for wt in kept] if total > 0 else weights


def _transformed(y: np.ndarray, objective: Objective) -> np.ndarray:
    import numpy as np

    if objective.target_transform == "log1p":
        return np.log1p(y)
    return y


def _tune(
    run: Callable[[Config], Fitted | None],
    fitted: list[Fitted],
    objective: Objective,
    deadline: float,
    seed: int,
) -> int:
    """Optuna TPE over LightGBM settings, warm-started with the portfolio's results."""
    import logging

    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    lgbm = [f for f in fitted if f.config.family == "lightgbm"]
    if not lgbm:
        return 0
    lgbm_times = [f.seconds for f in lgbm]
    space = tuning_distributions()
    study = optuna.create_study(
        direction="maximize" if objective.greater_is_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
    )
    for f in lgbm:
        study.add_trial(
            optuna.trial.create_trial(
                params=clip_to_space(f.config.params, space), distributions=space, value=f.score
            )
        )
    trials = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining < 0.6 * statistics.median(lgbm_times):
            break
        trial = study.ask(space)
        result = run(Config(f"lgbm_tuned_{trials + 1}", "lightgbm", tuned_config(trial.params)))
        trials += 1
        if result is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            break
        lgbm_times.append(result.seconds)
        study.tell(trial, result.score)
    return trials
