"""The benchmark model's data: the demo telco churn table, every feature a plain number.

Imported by make_model.py (repo venv) and by build_peer.py (the peers' venvs), so every venv
builds the same feature matrix from the same file. Needs only pandas and numpy.

Why all-numeric: MLServer's LightGBM runtime (mlserver_lightgbm) decodes a V2 request into one
numpy array and calls `Booster.predict` on it, so it takes numbers only. For a fair comparison
every system gets the same 19 numeric columns: each string column of the demo data becomes the
integer code of its value among the column's sorted distinct values (`CATEGORIES` below), and
LightGBM is told those columns are categorical (`categorical_feature`), so the trees still make
categorical splits. Nobody pays for string parsing or category lookup at serving time.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATA = ROOT / "src" / "pmle" / "resources" / "telco_churn.csv.gz"
TARGET = "churn"  # "Yes" / "No" → 1 / 0

# The model: same parameters in every venv; one thread + deterministic so a refit in another
# venv (same LightGBM version) gives the same trees.
PARAMS = {
    "n_estimators": 200,
    "num_leaves": 31,
    "learning_rate": 0.05,
    "random_state": 0,
    "n_jobs": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}


def load_features():
    """(X, y, categorical column names): X all int64/float64, y 0/1, in the file's column order."""
    import pandas as pd

    df = pd.read_csv(DATA)
    y = (df.pop(TARGET).astype(str) == "Yes").astype("int64")
    cats = []
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_numeric_dtype(s.dtype):
            continue
        values = sorted(str(v) for v in s.dropna().unique())
        codes = {v: i for i, v in enumerate(values)}
        df[col] = s.map(lambda v, codes=codes: codes[str(v)]).astype("int64")
        cats.append(col)
    for col in df.columns:
        if col not in cats:
            df[col] = df[col].astype("float64" if df[col].isna().any() else df[col].dtype)
    return df, y, cats


def fit_classifier():
    """The benchmark's LGBMClassifier, fitted on all rows."""
    import lightgbm as lgb

    X, y, cats = load_features()
    model = lgb.LGBMClassifier(**PARAMS)
    model.fit(X, y, categorical_feature=cats)
    return model, X, y, cats
