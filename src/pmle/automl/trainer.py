"""Fitting one candidate configuration across the validation folds.

Each candidate yields out-of-fold predictions (for scoring and ensemble selection) and one
fitted model per fold (bagged together at prediction time, so no refit is needed). Training
stops at the search deadline: LightGBM through a callback, forests by growing trees in steps.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.automl.portfolio import Config

if TYPE_CHECKING:
    import numpy as np

    from pmle.automl.objectives import Objective


# Folds train in parallel threads. LightGBM's predict and model (de)serialisation set
# process-wide OpenMP state; one crash was seen with several threads inside them at once, so
# those calls take turns (training, where the time goes, still runs in parallel).
_LGBM_CALLS = threading.Lock()


class OutOfTime(Exception):
    """The deadline passed before a model could be fitted."""


@dataclass
class Folds:
    """Train / validation row indices of each fold (a holdout is a single fold)."""

    splits: list[tuple[np.ndarray, np.ndarray]]
    strategy: str  # "5-fold", "holdout 15%", ...

    @property
    def covered(self) -> np.ndarray:
        """Row indices that have an out-of-fold prediction."""
        import numpy as np

        return np.sort(np.concatenate([v for _, v in self.splits]))


def make_folds(y: np.ndarray, task: str, seed: int, n_rows: int) -> Folds:
    """K-fold for small data, holdout for large: k = 5 up to 10k rows, 3 up to 60k."""
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    idx = np.arange(n_rows)
    stratify = y if task in {"binary", "multiclass"} else None
    if n_rows <= 60_000:
        k = 5 if n_rows <= 10_000 else 3
        splitter = (
            StratifiedKFold(k, shuffle=True, random_state=seed)
            if stratify is not None
            else KFold(k, shuffle=True, random_state=seed)
        )
        return Folds([(tr, va) for tr, va in splitter.split(idx, stratify)], f"{k}-fold")
    holdout = min(0.15, 20_000 / n_rows)
    tr, va = train_test_split(idx, test_size=holdout, random_state=seed, stratify=stratify)
    return Folds([(np.sort(tr), np.sort(va))], f"holdout {holdout:.0%}")


@dataclass(frozen=True)
class FoldData:
    """The rows one model is fitted on and validated against (weights optional)."""

    x_tr: np.ndarray
    y_tr: np.ndarray
    x_va: np.ndarray
    y_va: np.ndarray
    w_tr: np.ndarray | None = None
    w_va: np.ndarray | None = None


@dataclass(frozen=True)
class FitSetup:
    """What every family's fitter needs besides the rows."""

    task: str
    n_classes: int
    categorical: list[int]
    deadline: float  # time.monotonic() value
    threads: int
    seed: int


#: What a fitter returns: (model, validation predictions, rounds or trees, cut by the deadline).
Fit = tuple[Any, "np.ndarray", int, bool]


@dataclass
class Fitted:
    """A candidate fitted on every fold."""

    config: Config
    oof: np.ndarray  # predictions for the covered rows (probabilities or values)
    models: list[Any]  # one per fold
    kind: str  # lightgbm | sklearn | linear
    score: float
    seconds: float
    iterations: list[int] = field(default_factory=list)
    stopped_early_by_deadline: bool = False


def fit_candidate(
    config: Config,
    x: np.ndarray,
    y: np.ndarray,
    folds: Folds,
    *,
    task: str,
    n_classes: int,
    objective: Objective,
    categorical: list[int],
    weight: np.ndarray | None,
    deadline: float,
    n_jobs: int,
    seed: int,
) -> Fitted:
    """Fit `config` on each fold; raises OutOfTime if not even one model could be finished."""
    import numpy as np

    start = time.monotonic()
    n_out = n_classes if task != "regression" else 1
    oof = np.zeros((len(y), n_out)) if n_out > 1 else np.zeros(len(y))
    # Small data: folds in parallel, one thread each (LightGBM releases the GIL and scales
    # poorly on few rows). Large data: folds in turn, each using every core.
    parallel = len(y) < 50_000 and len(folds.splits) > 1 and n_jobs > 1
    threads = 1 if parallel else n_jobs

    def one(fold: int) -> Fit:
        tr, va = folds.splits[fold]
        w_tr = weight[tr] if weight is not None else None
        w_va = weight[va] if weight is not None else None
        data = FoldData(x[tr], y[tr], x[va], y[va], w_tr, w_va)
        setup = FitSetup(task, n_classes, categorical, deadline, threads, seed + fold)
        return _FITTERS[config.family]({**config.params, "_metric": objective.metric}, data, setup)

    if parallel:
        with ThreadPoolExecutor(min(n_jobs, len(folds.splits))) as pool:
            results = list(pool.map(one, range(len(folds.splits))))
    else:
        results = [one(i) for i in range(len(folds.splits))]
    models, iterations, cut = [], [], False
    for (_tr, va), (model, pred, iters, stopped) in zip(folds.splits, results, strict=True):
        oof[va] = pred
        models.append(model)
        iterations.append(iters)
        cut = cut or stopped
    covered = folds.covered
    w = weight[covered] if weight is not None else None
    score = objective.score(y[covered], oof[covered], w)
    kind = {"lightgbm": "lightgbm", "linear": "linear", "catboost": "catboost"}.get(
        config.family, "sklearn"
    )
    return Fitted(config, oof, models, kind, score, time.monotonic() - start, iterations, cut)


# -- LightGBM -----------------------------------------------------------------------------------


#: LightGBM's own metric for early stopping, per pmle metric: stop where the objective peaks.
_EARLY_STOP_METRIC = {"auc": "auc", "auc_pr": "average_precision", "mae": "l1"}


def _lgbm_objective(task: str, n_classes: int, metric: str = "") -> dict[str, Any]:
    if task == "binary":
        return {"objective": "binary", "metric": _EARLY_STOP_METRIC.get(metric, "binary_logloss")}
    if task == "multiclass":
        return {"objective": "multiclass", "num_class": n_classes, "metric": "multi_logloss"}
    if metric == "mae":
        return {"objective": "regression_l1", "metric": "l1"}
    return {"objective": "regression", "metric": "l2"}


def _fit_lgbm(params: dict[str, Any], data: FoldData, setup: FitSetup) -> Fit:
    import lightgbm as lgb
    import numpy as np

    p = {
        **{k: v for k, v in params.items() if not k.startswith("_")},
        **_lgbm_objective(setup.task, setup.n_classes, params.get("_metric", "")),
        "verbosity": -1,
        "seed": setup.seed,
        "num_threads": setup.threads,
        "deterministic": True,
        "force_row_wise": True,
    }
    train = lgb.Dataset(
        data.x_tr,
        data.y_tr,
        weight=data.w_tr,
        categorical_feature=setup.categorical or "auto",
        free_raw_data=False,
    )
    valid = lgb.Dataset(data.x_va, data.y_va, weight=data.w_va, reference=train)
    lr = float(p.get("learning_rate", 0.05))
    patience = 50 if lr >= 0.05 else 100
    stopped = {"deadline": False}

    def stop_at_deadline(env: Any) -> None:
        if time.monotonic() > setup.deadline and env.iteration >= 1:
            stopped["deadline"] = True
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    if time.monotonic() > setup.deadline:
        raise OutOfTime
    booster = lgb.train(
        p,
        train,
        num_boost_round=5000,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(patience, verbose=False), stop_at_deadline],
    )
    best = booster.best_iteration or booster.current_iteration()
    with _LGBM_CALLS:
        pred = np.asarray(booster.predict(data.x_va, num_iteration=best, num_threads=1))
        # Keep only the trees that are used: smaller files, faster predictions.
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    if setup.task == "binary":
        pred = np.column_stack([1.0 - pred, pred])
    return booster, pred, int(best), stopped["deadline"]


# -- scikit-learn families ----------------------------------------------------------------------


def _fit_forest(params: dict[str, Any], data: FoldData, setup: FitSetup, extra: bool) -> Fit:
    from sklearn import ensemble
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    cls = {
        (True, False): ensemble.ExtraTreesClassifier,
        (True, True): ensemble.ExtraTreesRegressor,
        (False, False): ensemble.RandomForestClassifier,
        (False, True): ensemble.RandomForestRegressor,
    }[(extra, setup.task == "regression")]
    total = int(params.get("n_estimators", 100))
    regression = setup.task == "regression"
    forest = cls(
        n_estimators=0,
        warm_start=True,
        n_jobs=setup.threads,
        random_state=setup.seed,
        max_features=params["max_features_regression" if regression else "max_features"],
        min_samples_leaf=params.get("min_samples_leaf", 5),
    )
    # Imputing (with missing-value indicators) is twice as fast as the trees' own NaN handling.
    model = Pipeline(
        [
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("trees", forest),
        ]
    )
    x_imp = model.named_steps["impute"].fit_transform(data.x_tr)
    grown, stopped, step = 0, False, 25
    while grown < total:
        if time.monotonic() > setup.deadline:
            stopped = True
            break
        grown = min(total, grown + step)
        forest.set_params(n_estimators=grown)
        forest.fit(x_imp, data.y_tr, sample_weight=data.w_tr)
    if grown == 0:
        raise OutOfTime
    # Predicting with a thread pool costs ~10 ms per call in start-up: serve single-threaded.
    forest.set_params(n_jobs=1, warm_start=False)
    pred = (
        model.predict_proba(data.x_va) if setup.task != "regression" else model.predict(data.x_va)
    )
    return model, pred, grown, stopped


def _fit_extra_trees(params: dict[str, Any], data: FoldData, setup: FitSetup) -> Fit:
    return _fit_forest(params, data, setup, extra=True)


def _fit_random_forest(params: dict[str, Any], data: FoldData, setup: FitSetup) -> Fit:
    return _fit_forest(params, data, setup, extra=False)


def _fit_linear(params: dict[str, Any], data: FoldData, setup: FitSetup) -> Fit:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from pmle.models.linear_member import LinearMember

    if time.monotonic() > setup.deadline:
        raise OutOfTime
    numeric = [i for i in range(data.x_tr.shape[1]) if i not in set(setup.categorical)]
    steps = [
        (
            "num",
            Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
            numeric,
        )
    ]
    if setup.categorical:
        steps.append(("cat", OneHotEncoder(handle_unknown="ignore"), setup.categorical))
    pre = ColumnTransformer(steps, sparse_threshold=0.0)
    if setup.task == "regression":
        head: Any = Ridge(alpha=1.0 / float(params.get("C", 1.0)))
    else:
        head = LogisticRegression(C=float(params.get("C", 1.0)), max_iter=300)
    pipeline = Pipeline([("pre", pre), ("model", head)])
    pipeline.fit(data.x_tr, data.y_tr, model__sample_weight=data.w_tr)
    pred = (
        pipeline.predict_proba(data.x_va)
        if setup.task != "regression"
        else pipeline.predict(data.x_va)
    )
    return LinearMember.from_sklearn(pipeline, numeric, list(setup.categorical)), pred, 1, False


def _fit_catboost(params: dict[str, Any], data: FoldData, setup: FitSetup) -> Fit:
    from pmle.automl import catboost_family

    return catboost_family.fit(params, data, setup)


_FITTERS = {
    "catboost": _fit_catboost,
    "lightgbm": _fit_lgbm,
    "extra_trees": _fit_extra_trees,
    "random_forest": _fit_random_forest,
    "linear": _fit_linear,
}


def refit_full(
    fitted: Fitted,
    x: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    n_classes: int,
    categorical: list[int],
    weight: np.ndarray | None,
    deadline: float,
    threads: int,
    seed: int,
    metric: str = "",
) -> Any | None:
    """One model of the candidate fitted on every row (None if the deadline cut it short).

    LightGBM gets the fold models' mean best iteration, scaled up for the extra rows; forests
    keep their tree count. One model instead of one per fold makes prediction k times cheaper.
    """
    import lightgbm as lgb

    family = fitted.config.family
    k = max(1, len(fitted.models))
    if time.monotonic() > deadline:
        return None
    # Boosters: the folds' mean rounds, scaled up for the 1/k more rows.
    rounds = max(1, round(sum(fitted.iterations) / len(fitted.iterations) * (1 + 1 / k)))
    if family == "lightgbm":
        p = {
            **fitted.config.params,
            **_lgbm_objective(task, n_classes, metric),
            "verbosity": -1,
            "seed": seed,
            "num_threads": threads,
            "deterministic": True,
            "force_row_wise": True,
        }
        data = lgb.Dataset(x, y, weight=weight, categorical_feature=categorical or "auto")
        cut = {"deadline": False}

        def stop_at_deadline(env: Any) -> None:
            if time.monotonic() > deadline:
                cut["deadline"] = True
                raise lgb.callback.EarlyStopException(env.iteration, [])

        booster = lgb.train(p, data, num_boost_round=rounds, callbacks=[stop_at_deadline])
        return None if cut["deadline"] else booster
    # A linear model fits in a moment: it is never cut short.
    setup = FitSetup(
        task,
        n_classes,
        categorical,
        deadline if family != "linear" else float("inf"),
        threads,
        seed,
    )
    if family == "catboost":
        from pmle.automl import catboost_family

        params = {**fitted.config.params, "_metric": metric}
        return catboost_family.refit(params, x, y, weight, setup, rounds)
    params = dict(fitted.config.params)
    if family in {"extra_trees", "random_forest"}:
        params["n_estimators"] = max(fitted.iterations)
    model, _, _, stopped = _FITTERS[family](params, FoldData(x, y, x[:1], y[:1], weight), setup)
    return None if stopped else model
