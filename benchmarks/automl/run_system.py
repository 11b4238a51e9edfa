"""Fit one system on one dataset with one budget, in that system's own venv; save predictions.

Started by ``bench.py`` (one fresh process per run) with the interpreter of the system's venv,
so this file imports nothing from the repo and only numpy / pandas / pyarrow besides the system.
It writes into ``--out``:

- ``predictions.parquet``: one column per class (probabilities, named by the class label) for
  classification, or ``pred`` for regression; rows in test-set order;
- ``runner.json``: status, timings (fit, prediction throughput, 1-row latency), versions, notes.

The metric is NOT computed here: the harness computes it the same way for every system.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

SYSTEMS = ("pmle", "flaml", "ag_medium", "ag_best", "lightgbm")


def load(data_dir: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    meta = json.loads((data_dir / "meta.json").read_text())
    train = pd.read_parquet(data_dir / "train.parquet")
    test = pd.read_parquet(data_dir / "test.parquet")
    target = meta["target"]
    # The same typing for every system: string columns become pandas categoricals whose
    # categories are the values seen in train or test (as an ARFF header / R factor would declare).
    for c in meta["categorical"]:
        cats = sorted(set(train[c].dropna().astype(str)) | set(test[c].dropna().astype(str)))
        dtype = pd.CategoricalDtype(cats)
        train[c] = train[c].astype(object).astype(dtype)
        test[c] = test[c].astype(object).astype(dtype)
    y_train = train.pop(target)
    test = test.drop(columns=[target])
    if meta["task"] == "regression":
        y_train = y_train.astype("float64")
    else:
        y_train = y_train.astype(object).astype(str).astype(object)
    return meta, train, y_train, test


# ---------------------------------------------------------------------------------- adapters
# Each returns (predict_fn, classes, info): predict_fn(X) -> ndarray (n, k) of probabilities in
# `classes` order for classification, (n,) for regression.


def fit_pmle(meta, X, y, budget, seed, n_jobs, workdir):  # type: ignore[no-untyped-def]
    import pmle
    from pmle.automl import AutoMLClassifier, AutoMLRegressor

    task = meta["task"]
    if task == "regression":
        m = AutoMLRegressor(time_budget=budget, objective="minimize-rmse", seed=seed, n_jobs=n_jobs)
    else:
        obj = "maximize-au-roc" if task == "binary" else "minimize-log-loss"
        m = AutoMLClassifier(time_budget=budget, objective=obj, seed=seed, n_jobs=n_jobs)
    t0 = time.perf_counter()
    m.fit(X, y)
    fit_s = time.perf_counter() - t0
    info = {"version": getattr(pmle, "__version__", "?")}
    for attr in ("best_model_", "best_estimator_", "leaderboard_"):
        v = getattr(m, attr, None)
        if v is not None:
            info[attr] = _short(v)
    if task == "regression":
        return fit_s, (lambda Z: m.predict(Z)), None, info
    return fit_s, (lambda Z: m.predict_proba(Z)), [str(c) for c in m.classes_], info


def fit_flaml(meta, X, y, budget, seed, n_jobs, workdir):  # type: ignore[no-untyped-def]
    import flaml
    from flaml import AutoML

    task = meta["task"]
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    automl = AutoML()
    t0 = time.perf_counter()
    automl.fit(
        X_train=X,
        y_train=y,
        task="regression" if task == "regression" else "classification",
        metric=metric,
        time_budget=budget,
        n_jobs=n_jobs,
        seed=seed,
        verbose=0,
        log_file_name=str(workdir / "flaml.log"),
    )
    fit_s = time.perf_counter() - t0
    info = {
        "version": flaml.__version__,
        "best_estimator": automl.best_estimator,
        "best_config": _short(automl.best_config),
        "best_loss": automl.best_loss,
    }
    if task == "regression":
        return fit_s, (lambda Z: automl.predict(Z)), None, info
    return fit_s, (lambda Z: automl.predict_proba(Z)), [str(c) for c in automl.classes_], info


def _fit_autogluon(preset, meta, X, y, budget, seed, n_jobs, workdir):  # type: ignore[no-untyped-def]
    import autogluon.tabular as agt
    from autogluon.tabular import TabularPredictor

    task = meta["task"]
    label = "__target__"
    metric = {
        "binary": "roc_auc",
        "multiclass": "log_loss",
        "regression": "root_mean_squared_error",
    }[task]
    train = X.copy()
    train[label] = y.values
    predictor = TabularPredictor(
        label=label, problem_type=task, eval_metric=metric, path=str(workdir / "ag"), verbosity=1
    )
    t0 = time.perf_counter()
    predictor.fit(train, time_limit=budget, presets=preset, num_cpus=n_jobs, num_gpus=0)
    fit_s = time.perf_counter() - t0
    # Load the models into memory (AutoGluon's advice for inference); else every predict reads
    # them from disk. Timed apart from fit.
    t1 = time.perf_counter()
    try:
        predictor.persist()
    except Exception as e:
        print(f"persist failed: {e}", file=sys.stderr)
    persist_s = time.perf_counter() - t1
    lb = predictor.leaderboard(silent=True)
    info = {
        "version": getattr(agt, "__version__", "?"),
        "preset": preset,
        "best_model": predictor.model_best,
        "n_models": len(lb),
        "models": lb["model"].astype(str).tolist()[:40],
        "persist_seconds": round(persist_s, 3),
    }
    if task == "regression":
        return fit_s, (lambda Z: predictor.predict(Z)), None, info
    classes = [str(c) for c in predictor.class_labels]
    return fit_s, (lambda Z: predictor.predict_proba(Z)[predictor.class_labels]), classes, info


def fit_ag_medium(*a):  # type: ignore[no-untyped-def]
    return _fit_autogluon("medium_quality", *a)


def fit_ag_best(*a):  # type: ignore[no-untyped-def]
    return _fit_autogluon("best_quality", *a)


def fit_lightgbm(meta, X, y, budget, seed, n_jobs, workdir):  # type: ignore[no-untyped-def]
    import lightgbm as lgb

    task = meta["task"]
    # Default parameters: the floor. Categorical columns go in as pandas categoricals.
    est = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    m = est(n_jobs=n_jobs, random_state=seed, verbose=-1)
    t0 = time.perf_counter()
    m.fit(X, y)
    fit_s = time.perf_counter() - t0
    info = {"version": lgb.__version__}
    if task == "regression":
        return fit_s, (lambda Z: m.predict(Z)), None, info
    return fit_s, (lambda Z: m.predict_proba(Z)), [str(c) for c in m.classes_], info


# ------------------------------------------------------------------------------------ driver


def _short(v, n: int = 2000):  # type: ignore[no-untyped-def]
    try:
        s = v if isinstance(v, str) else json.dumps(v, default=str)
    except Exception:
        s = repr(v)
    return s[:n]


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for mod in (
        "numpy",
        "pandas",
        "pyarrow",
        "sklearn",
        "lightgbm",
        "xgboost",
        "catboost",
        "ray",
        "torch",
    ):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            pass
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--system", required=True, choices=SYSTEMS)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--budget", required=True, type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    a = p.parse_args(argv)

    import numpy as np
    import pandas as pd

    a.out.mkdir(parents=True, exist_ok=True)
    rec: dict = {
        "system": a.system,
        "budget": a.budget,
        "seed": a.seed,
        "n_jobs": a.n_jobs,
        "status": "error",
        "python": sys.executable,
        "pid": os.getpid(),
    }
    # Scratch space (AutoGluon's model folder, FLAML's log) inside --out, which the harness
    # deletes after the run, also when it had to kill the run.
    workdir = Path(tempfile.mkdtemp(prefix="work-", dir=a.out))
    t_start = time.perf_counter()
    try:
        t0 = time.perf_counter()
        meta, X, y, X_test = load(a.data)
        rec["load_seconds"] = round(time.perf_counter() - t0, 3)
        fit = globals()[f"fit_{a.system}"]
        rec["stage"] = "fit"
        fit_s, predict, classes, info = fit(meta, X, y, a.budget, a.seed, a.n_jobs, workdir)
        rec["fit_seconds"] = round(fit_s, 3)
        rec["info"] = info
        rec["stage"] = "predict"

        def as_array(v):  # type: ignore[no-untyped-def]
            return np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, dtype="float64")

        # Batch: the whole test set, twice; the faster of the two (the first may warm caches).
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            pred = as_array(predict(X_test))
            times.append(time.perf_counter() - t0)
        n = len(X_test)
        rec["predict_batch_seconds"] = round(min(times), 6)
        rec["predict_rows_per_s"] = round(n / max(min(times), 1e-9), 1)
        # One row at a time: one warm-up, then the median of 20 calls on 20 different rows.
        predict(X_test.iloc[[0]])
        lat = []
        for i in range(20):
            row = X_test.iloc[[i % n]]
            t0 = time.perf_counter()
            predict(row)
            lat.append(time.perf_counter() - t0)
        rec["latency_1row_ms"] = round(statistics.median(lat) * 1000, 3)
        if meta["task"] == "regression":
            pred = pred.reshape(-1)
            frame = pd.DataFrame({"pred": pred})
        else:
            if pred.ndim != 2 or pred.shape[1] != len(classes):
                raise ValueError(f"predict_proba gave shape {pred.shape}, classes {classes}")
            frame = pd.DataFrame(pred, columns=[str(c) for c in classes])
        if len(frame) != n:
            raise ValueError(f"{len(frame)} predictions for {n} test rows")
        frame.to_parquet(a.out / "predictions.parquet", index=False)
        rec["status"] = "ok"
        rec.pop("stage", None)
    except BaseException as e:
        rec["error_type"] = type(e).__name__
        rec["error"] = f"{type(e).__name__}: {e}"[:2000]
        rec["traceback"] = traceback.format_exc()[-6000:]
    finally:
        rec["runner_seconds"] = round(time.perf_counter() - t_start, 3)
        rec["versions"] = _versions()
        (a.out / "runner.json").write_text(json.dumps(rec, indent=1, default=str))
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({k: rec.get(k) for k in ("system", "status", "fit_seconds", "error")}))
    return 0 if rec["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
