"""Build one peer's model file inside that peer's venv (called by make_model.py).

    benchmarks/.venvs/serving-mlflow/bin/python  build_peer.py mlflow  WORK
    benchmarks/.venvs/serving-fastapi/bin/python build_peer.py fastapi WORK

mlflow:  `mlflow.lightgbm.save_model` of the booster read from WORK/model.txt, with a signature
         inferred from the sample rows (MLflow's recommended practice; its server then enforces
         the input schema on each request) → WORK/mlflow/model. Its pyfunc calls
         `Booster.predict`, i.e. returns P(churn).
fastapi: refits the LGBMClassifier (features.py: same data, params, one thread, deterministic)
         and checks its `predict_proba` against WORK/expected.json (< 1e-9) before pickling it
         with joblib → WORK/fastapi/model.joblib (a pickle made by this venv's own
         scikit-learn/LightGBM, so the app unpickles what it made).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def sample_frame(work: Path):
    import pandas as pd

    s = json.loads((work / "sample.json").read_text())
    return pd.DataFrame(s["rows"], columns=s["columns"])


def expected(work: Path):
    import numpy as np

    return np.asarray(json.loads((work / "expected.json").read_text())["p_churn"])


def build_mlflow(work: Path) -> None:
    import lightgbm as lgb
    import mlflow.lightgbm
    import numpy as np
    from mlflow.models import infer_signature

    booster = lgb.Booster(model_file=str(work / "model.txt"))
    X = sample_frame(work)
    p = booster.predict(X)
    assert np.max(np.abs(p - expected(work))) < 1e-9
    out = work / "mlflow" / "model"
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # "integer columns cannot hold missing values": none here
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(X, p)
    mlflow.lightgbm.save_model(booster, str(out), signature=signature)
    back = mlflow.pyfunc.load_model(str(out)).predict(X)
    diff = float(np.max(np.abs(np.asarray(back).ravel() - expected(work))))
    assert diff < 1e-9, f"mlflow pyfunc differs from the booster by {diff}"
    print(f"[model] mlflow: saved {out} (mlflow {mlflow.__version__}, pyfunc check ok)")


def build_fastapi(work: Path) -> None:
    import joblib
    import numpy as np
    from features import fit_classifier

    model, *_ = fit_classifier()
    p = model.predict_proba(sample_frame(work))[:, 1]
    diff = float(np.max(np.abs(p - expected(work))))
    assert diff < 1e-9, f"refit in the fastapi venv differs from the reference by {diff}"
    out = work / "fastapi" / "model.joblib"
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)
    print(f"[model] fastapi: saved {out} (refit matches the reference, max diff {diff:.1e})")


if __name__ == "__main__":
    peer, work = sys.argv[1], Path(sys.argv[2]).resolve()
    {"mlflow": build_mlflow, "fastapi": build_fastapi}[peer](work)
