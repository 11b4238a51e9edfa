"""One AutoML fit on an in-memory table: validate, featurise, search, assemble the ensemble."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.automl import objectives
from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.automl.problem import Problem
    from pmle.automl.search import OnEvent, SearchResult
    from pmle.models.ensemble import EnsembleModel, Member

MIN_BUDGET_S = 2.0
#: Share of the budget kept back for assembling, measuring and saving the model.
RESERVE = 0.04
#: Share of the budget for refitting the chosen candidates on all rows after the search.
REFIT_SHARE = 0.07


@dataclass
class AutoMLFit:
    """The result of a fit: the model, and how it was found."""

    model: EnsembleModel
    problem: Problem
    objective: objectives.Objective
    search: SearchResult
    seconds: float
    feature_importance: dict[str, float] = field(default_factory=dict)

    @property
    def leaderboard(self) -> list[dict[str, Any]]:
        """Candidates, best first."""
        return [e.to_dict() for e in self.search.leaderboard]


def parse_budget(budget: float | int | str) -> float:
    """Seconds from 90, "90", "90s", "5m", "1h"."""
    if isinstance(budget, (int, float)):
        seconds = float(budget)
    else:
        text = str(budget).strip().lower()
        unit = {"s": 1, "m": 60, "h": 3600}.get(text[-1:])
        try:
            seconds = float(text[:-1]) * unit if unit else float(text)
        except ValueError:
            raise InvalidInput(f"bad budget {budget!r}", hint="e.g. 60, 60s, 5m or 1h")
    if seconds < MIN_BUDGET_S:
        raise InvalidInput(
            f"a budget of {seconds:g} s is too small to fit even one model",
            hint=f"give at least {MIN_BUDGET_S:g} s",
        )
    return seconds


def default_jobs() -> int:
    """Cores to use: all of them."""
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


def fit_automl(
    frame: pd.DataFrame,
    target: str,
    *,
    task: str = "auto",
    objective: str | None = None,
    budget: float | int | str = 60,
    weight_column: str | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
    on_event: OnEvent | None = None,
    started: float | None = None,
) -> AutoMLFit:
    """Search for the best model of `target` from the other columns within `budget`."""
    import numpy as np

    from pmle.automl.problem import make_problem
    from pmle.automl.search import search
    from pmle.models.ensemble import EnsembleModel
    from pmle.models.signature import infer_signature
    from pmle.models.transforms import FeatureTransform

    t0 = started if started is not None else time.monotonic()
    seconds = parse_budget(budget)
    jobs = n_jobs or default_jobs()
    problem = make_problem(frame, target, task, weight_column)
    obj = objectives.resolve(objective, problem.task)
    if obj.target_transform == "log1p" and float(np.min(problem.y)) < 0:
        raise InvalidInput(
            "minimize-rmsle needs a target without negative values",
            hint="use minimize-rmse or minimize-mae",
        )
    features = frame[list(problem.kinds)]
    transform = FeatureTransform.fit(features, problem.kinds)
    transform.dropped = {n.split(":")[0].removeprefix("dropped "): n for n in problem.notes}
    x = transform.transform(features)
    final = t0 + seconds * (1 - RESERVE) - 0.3
    result = search(
        problem,
        x,
        transform.categorical_features,
        obj,
        deadline=final - seconds * REFIT_SHARE,
        n_jobs=jobs,
        seed=seed,
        on_event=on_event,
    )
    y = problem.y if obj.target_transform is None else np.log1p(problem.y)
    refits = _refit(
        result, x, y, problem, transform.categorical_features, final, jobs, seed, obj.metric
    )
    if on_event is not None:
        on_event("refit", {"refitted": sorted(refits), "of": len(result.chosen)})
    members = _members(result, refits)
    signature = infer_signature(features.head(50))
    model = EnsembleModel(
        transform=transform,
        members=members,
        task=problem.task,
        classes=problem.classes,
        target_transform=obj.target_transform,
        input_signature=signature,
        info={
            "objective": obj.name,
            "metric": obj.metric,
            "cv_score": result.ensemble_score,
            "validation": result.folds.strategy,
            "target": target,
            "leaderboard": [e.to_dict() for e in result.leaderboard],
            "notes": problem.notes,
        },
    )
    importance = _importance(model, transform.source_column())
    model.info["feature_importance"] = importance
    return AutoMLFit(model, problem, obj, result, time.monotonic() - t0, importance)


def _refit(
    result: SearchResult,
    x: np.ndarray,
    y: np.ndarray,
    problem: Problem,
    categorical: list[int],
    deadline: float,
    jobs: int,
    seed: int,
    metric: str,
) -> dict[str, Any]:
    """Refit the chosen candidates on every row while time allows (most weight first)."""
    from concurrent.futures import ThreadPoolExecutor

    from pmle.automl.trainer import refit_full

    chosen = sorted(result.chosen, key=lambda fw: -fw[1])
    parallel = len(y) < 50_000 and jobs > 1

    def one(f: Any) -> tuple[str, Any]:
        model = refit_full(
            f,
            x,
            y,
            task=problem.task,
            n_classes=problem.n_classes,
            categorical=categorical,
            weight=problem.weight,
            deadline=deadline,
            threads=1 if parallel else jobs,
            seed=seed,
            metric=metric,
        )
        return f.config.name, model

    if parallel:
        with ThreadPoolExecutor(jobs) as pool:
            done = list(pool.map(one, [f for f, _ in chosen]))
    else:
        done = [one(f) for f, _ in chosen]
    return {name: model for name, model in done if model is not None}


def _members(result: SearchResult, refits: dict[str, Any]) -> list[Member]:
    """The ensemble's members: each chosen candidate's model refitted on all rows (or, where
    time ran out, its fold models); every LightGBM model merged into one booster (the same
    predictions in one call)."""
    from pmle.models.ensemble import Member
    from pmle.models.lgbm_merge import merge_boosters

    boosters, booster_weights, names = [], [], []
    members: list[Member] = []
    for f, weight in result.chosen:
        models = [refits[f.config.name]] if f.config.name in refits else f.models
        share = weight / len(models)
        for i, model in enumerate(models):
            if f.kind == "lightgbm":
                boosters.append(model)
                booster_weights.append(share)
                names.append(f.config.name)
            else:
                members.append(Member(f.kind, model, share, f"{f.config.name}/fold{i}"))
    if boosters:
        total = sum(booster_weights)
        merged = merge_boosters(boosters, [w / total for w in booster_weights])
        label = "+".join(dict.fromkeys(names))
        members.insert(0, Member("lightgbm", merged, total, f"merged({label})"))
    return members


def _importance(model: EnsembleModel, sources: list[str]) -> dict[str, float]:
    """Gain importance of the LightGBM members per input column, ensemble-weighted, summing to 1."""
    import numpy as np

    totals: dict[str, float] = {}
    for m in model.members:
        if m.kind != "lightgbm":
            continue
        gains = np.asarray(m.model.feature_importance(importance_type="gain"), dtype=float)
        if gains.sum() <= 0:
            continue
        for src, g in zip(sources, gains / gains.sum(), strict=True):
            totals[src] = totals.get(src, 0.0) + m.weight * float(g)
    total = sum(totals.values()) or 1.0
    return dict(sorted(((k, v / total) for k, v in totals.items()), key=lambda kv: -kv[1]))


def evaluate(
    model: EnsembleModel, frame: pd.DataFrame, problem: Problem, objective: objectives.Objective
) -> dict[str, float]:
    """Every reported metric of the model on labelled rows `frame`."""
    import numpy as np

    y_raw = frame[problem.target]
    if problem.classes is not None:
        index = {v: i for i, v in enumerate(problem.classes)}
        unknown = set(y_raw.dropna().unique()) - set(index)
        if unknown:
            raise InvalidInput(
                f"the test data has classes unseen in training: {sorted(unknown)[:5]}"
            )
        y = y_raw.map(index).to_numpy(dtype="int64")
        pred = model.predict_proba(frame)
        out = {}
        for name in objectives.REPORTED[problem.task]:
            if name in {"auc", "auc_pr"} and len(np.unique(y)) < 2:
                continue
            out[name] = objectives.metric(name, y, pred)
        return out
    y = y_raw.to_numpy(dtype="float64")
    values = model.predict(frame)
    out = {name: objectives.metric(name, y, values) for name in objectives.REPORTED["regression"]}
    if objective.metric == "rmsle":
        out["rmsle"] = objectives.metric("rmsle", y, values)
    return out


def latency(model: EnsembleModel, frame: pd.DataFrame, repeats: int = 30) -> dict[str, float]:
    """Prediction latency: one row (median of `repeats`) and per row in a 1,000-row batch."""
    import statistics

    one = frame.head(1)
    predict = model.predict_proba if model.task != "regression" else model.predict
    predict(one)  # warm-up
    single = []
    for _ in range(repeats):
        t = time.perf_counter()
        predict(one)
        single.append(time.perf_counter() - t)
    batch = frame.sample(n=1000, replace=len(frame) < 1000, random_state=0)
    t = time.perf_counter()
    predict(batch)
    per_row = (time.perf_counter() - t) / len(batch)
    return {
        "latency_1_row_ms": 1000 * statistics.median(single),
        "latency_per_row_batch_1000_us": 1e6 * per_row,
    }
