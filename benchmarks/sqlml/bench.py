"""SQL models benchmark (issue 7): `CREATE MODEL` on a 1M-row warehouse table against training
the same model directly on the same data, already in memory as a DataFrame.

For each model type, in one process, alternating the two sides per repetition:

- **pmle**: `ws.sql("CREATE OR REPLACE MODEL m OPTIONS(model_type=…, input_label_cols=['churn'])
  AS SELECT * FROM big")` — the whole statement: DuckDB reads the dataset into pandas, the
  AUTO_SPLIT (10,000 evaluation rows of 1M, by row hashes), the family's encoding and fit, the
  evaluation, the training statistics (for ML.VALIDATE_DATA_SKEW) and the registration.
- **direct**: the DataFrame in memory, the same training / evaluation rows (chosen before the
  clock starts), encoded with pandas / NumPy (standardised numbers, one-hot strings for linear
  models; category codes for trees), the same estimator with the same settings
  (scikit-learn `LogisticRegression(lbfgs, no penalty)`, scikit-learn `LinearRegression`,
  `lightgbm.train` with the parameters BigQuery ML's defaults map to), then the evaluation
  metrics on the held-out rows.

One more pmle run under cProfile splits the statement into its parts. Raw JSON per model in
results/raw/<model_type>.json; report.py writes the table.

    python benchmarks/sqlml/bench.py [--rows N] [--models logistic_reg,linear_reg,...]
                                     [--reps 2] [--results DIR] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mdsection import cpu_model  # noqa: E402

LABEL = "churn"
MODELS = {
    "logistic_reg": ("LOGISTIC_REG", "linear"),
    "linear_reg": ("LINEAR_REG", "linear"),
    "boosted_tree_classifier": ("BOOSTED_TREE_CLASSIFIER", "boosted_tree"),
}
#: LINEAR_REG predicts monthly charges (from everything else, churn included).
REG_LABEL = "monthly_charges"

#: (part of the statement, functions whose cumulative time it is)
PARTS = [
    ("read (DuckDB → pandas)", ["engine.py:frame"]),
    ("split (row hashes)", ["split.py:split_mask"]),
    (
        "encode",
        ["encoding.py:as_categories", "encoding.py:fit", "encoding.py:matrix", "encoding.py:frame"],
    ),
    ("statistics (skew baseline)", ["validate.py:training_statistics"]),
    ("evaluate", ["train.py:evaluate_supervised", "trees.py:evaluate"]),
    ("register (files, metadata)", ["engine.py:_register"]),
]


def make_data(rows: int, seed: int = 7) -> pd.DataFrame:
    """`rows` customers resampled from the shipped churn table, numbers jittered
    deterministically (so the rows are not copies)."""
    from pmle.demo import sample_data_path

    base = pd.read_csv(sample_data_path())
    rng = np.random.default_rng(seed)
    frame = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    frame["tenure"] = np.clip(frame["tenure"] + rng.integers(-2, 3, rows), 0, 80)
    frame["monthly_charges"] = (frame["monthly_charges"] * rng.normal(1, 0.05, rows)).round(2)
    frame["total_charges"] = (frame["total_charges"] * rng.normal(1, 0.05, rows)).round(2)
    return frame


def _label(model: str) -> str:
    return REG_LABEL if model == "linear_reg" else LABEL


def create_statement(model: str) -> str:
    model_type, _ = MODELS[model]
    return (
        f"CREATE OR REPLACE MODEL bench_{model} OPTIONS(model_type='{model_type.lower()}', "
        f"input_label_cols=['{_label(model)}']) AS SELECT * FROM big"
    )


# ---- the direct side -------------------------------------------------------------------------


def _one_hot(train: pd.DataFrame, rows: pd.DataFrame, label: str) -> np.ndarray:
    """Standardised numbers (NaN → mean) and one-hot strings over the training categories."""
    features = [c for c in train.columns if c != label]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c])]
    strings = [c for c in features if c not in numeric]
    x = rows[numeric].astype("float64")
    mean, std = train[numeric].mean(), train[numeric].std(ddof=1).replace(0, 1)
    parts = [((x.fillna(mean) - mean) / std).to_numpy()]
    for column in strings:
        cats = pd.CategoricalDtype(sorted(train[column].dropna().unique()))
        parts.append(pd.get_dummies(rows[column].astype(cats)).to_numpy(dtype="float64"))
    return np.hstack(parts)


def direct(model: str, train: pd.DataFrame, held: pd.DataFrame, rounds: int = 20) -> dict[str, Any]:
    """Train `model` on `train`, evaluate on `held`, the plain way; returns the metrics.
    Trees boost `rounds` rounds: as many as pmle's run kept after its early stop."""
    from sklearn import metrics

    label = _label(model)
    if model == "logistic_reg":
        import sklearn
        from sklearn.linear_model import LogisticRegression

        kwargs: dict[str, Any] = {"solver": "lbfgs", "max_iter": 5000}
        if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8):
            kwargs.update(C=np.inf, l1_ratio=0.0)
        else:
            kwargs.update(penalty=None)
        est = LogisticRegression(**kwargs).fit(_one_hot(train, train, label), train[label])
        proba = est.predict_proba(_one_hot(train, held, label))[:, 1]
        return {"roc_auc": float(metrics.roc_auc_score(held[label] == "Yes", proba))}
    if model == "linear_reg":
        from sklearn.linear_model import LinearRegression

        est = LinearRegression().fit(_one_hot(train, train, label), train[label])
        pred = est.predict(_one_hot(train, held, label))
        return {"r2_score": float(metrics.r2_score(held[label], pred))}
    import lightgbm as lgb

    from pmle.sqlml.families.boosted_tree import lightgbm_params
    from pmle.sqlml.options import check_options

    features = [c for c in train.columns if c != label]
    cats = {
        c: pd.CategoricalDtype(sorted(train[c].dropna().unique()))
        for c in features
        if not pd.api.types.is_numeric_dtype(train[c])
    }

    def codes(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[features].copy()
        for c, dtype in cats.items():
            out[c] = out[c].astype(dtype).cat.codes.replace(-1, np.nan).astype("float64")
        return out

    options = check_options(
        {"model_type": "BOOSTED_TREE_CLASSIFIER", "input_label_cols": [label]}, "", {}
    )
    params = lightgbm_params(options, ["No", "Yes"], len(train))
    y = (train[label] == "Yes").astype("float64")
    booster = lgb.train(params, lgb.Dataset(codes(train), y), num_boost_round=rounds)
    proba = booster.predict(codes(held))
    return {"roc_auc": float(metrics.roc_auc_score(held[label] == "Yes", proba))}


# ---- measuring -------------------------------------------------------------------------------


def _profile_parts(ws: Any, model: str) -> dict[str, float]:
    prof = cProfile.Profile()
    started = time.perf_counter()
    prof.enable()
    ws.sql(create_statement(model))
    prof.disable()
    total = time.perf_counter() - started
    stats = pstats.Stats(prof)
    cumulative: dict[str, float] = {}
    for (path, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = f"{Path(path).name}:{name}"
        if "pmle" in path or "sqlml" in path:
            cumulative[key] = max(cumulative.get(key, 0.0), ct)
    out = {part: sum(cumulative.get(k, 0.0) for k in keys) for part, keys in PARTS}
    _, family = MODELS[model]
    fit = cumulative.get(f"{family}.py:fit", 0.0)
    out["fit (family, encoding included)"] = fit
    out["total (under cProfile)"] = total
    return out


def run_model(ws: Any, model: str, frame: pd.DataFrame, reps: int, profile: bool) -> dict:
    from pmle.sqlml.options import check_options
    from pmle.sqlml.split import split_mask

    model_type, _ = MODELS[model]
    options = check_options({"model_type": model_type, "input_label_cols": [_label(model)]}, "", {})
    mask = split_mask(frame, options)  # the same rows as pmle's AUTO_SPLIT, chosen untimed
    train, held = (frame, frame) if mask is None else (frame[~mask], frame[mask])
    pmle_s: list[float] = []
    direct_s: list[float] = []
    pmle_metrics: dict[str, Any] = {}
    direct_metrics: dict[str, Any] = {}
    rounds = 20
    for rep in range(reps):
        for side in ("pmle", "direct") if rep % 2 == 0 else ("direct", "pmle"):
            started = time.perf_counter()
            if side == "pmle":
                ws.sql_session.execute(create_statement(model))
                pmle_s.append(time.perf_counter() - started)
                metrics = ws.sql_session.model(f"bench_{model}").evaluation.get("metrics", {})
                pmle_metrics = {k: metrics.get(k) for k in ("roc_auc", "r2_score") if k in metrics}
                rounds = max(1, len(ws.sql_session.model(f"bench_{model}").training_info))
            else:
                direct_metrics = direct(model, train, held, rounds)
                direct_s.append(time.perf_counter() - started)
            print(f"[bench] {model} rep {rep + 1} {side}: {(time.perf_counter() - started):.2f} s")
    parts = _profile_parts(ws, model) if profile else {}
    return {
        "model": model,
        "model_type": model_type,
        "rows": len(frame),
        "train_rows": len(train),
        "eval_rows": len(held),
        "statement": create_statement(model),
        "pmle_s": pmle_s,
        "direct_s": direct_s,
        "pmle_median_s": statistics.median(pmle_s),
        "direct_median_s": statistics.median(direct_s),
        # best of the repetitions: other processes on the machine only ever add time
        "pmle_best_s": min(pmle_s),
        "direct_best_s": min(direct_s),
        "ratio": min(pmle_s) / min(direct_s),
        "pmle_metrics": pmle_metrics,
        "direct_metrics": direct_metrics,
        "parts": parts,
        "rounds": rounds if MODELS[model][1] == "boosted_tree" else None,
    }


def machine() -> dict[str, Any]:
    import duckdb
    import lightgbm
    import sklearn

    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "ram_gib": round(ram, 1),
        "kernel": platform.release(),
        "versions": {
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "lightgbm": lightgbm.__version__,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    import pmle

    raw = args.results / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    frame = make_data(args.rows)
    print(f"[bench] {len(frame):,} rows made in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="pmle-sqlml-bench-") as tmp:
        ws = pmle.init(Path(tmp) / "ws")
        ws.datasets.import_("big", frame)
        table = ws.datasets.to_pandas("big")  # the direct side's frame: the same typed rows
        info = machine()
        for model in models:
            try:
                rec = run_model(ws, model, table, args.reps, not args.no_profile)
                rec["status"] = "ok"
            except Exception as exc:  # a family still missing: record it, go on
                rec = {"model": model, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                print(f"[bench] {model} failed: {rec['error']}", file=sys.stderr)
            rec["machine"] = info
            rec["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            (raw / f"{model}.json").write_text(json.dumps(rec, indent=1))
            if rec["status"] == "ok":
                print(
                    f"[bench] {model}: pmle {rec['pmle_best_s']:.2f} s, direct "
                    f"{rec['direct_best_s']:.2f} s (best of {args.reps}), ratio {rec['ratio']:.2f}×"
                )
        ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
