"""Build the serving benchmark's model once, in every format the systems load, plus the requests.

    python benchmarks/serving/make_model.py [--work DIR] [--force]     (the repo venv)

Trains one `lightgbm.LGBMClassifier` (features.py: 200 trees, 31 leaves, all-numeric features
with the string columns as categorical integer codes) on the demo telco churn data and writes,
under `benchmarks/serving/work/` (git-ignored):

- `model.txt`                the booster text (the reference; `expected.json` comes from it)
- `pmle/`                    a pmle workspace with the model registered as `churn-bench@1`
                             (`PMLE_WORKSPACE=work/pmle`; the harness deploys a copy of it)
- `mlserver/bench/`          `model.txt` + `model-settings.json` for MLServer's LightGBM runtime
- `mlflow/model/`            an MLflow model folder (lightgbm flavor): built by build_peer.py in
                             the serving-mlflow venv, when that venv exists
- `fastapi/model.joblib`     the fitted scikit-learn wrapper, pickled by build_peer.py in the
                             serving-fastapi venv (refit there: same data, params and LightGBM
                             version, so the same trees; checked against expected.json)
- `payloads/<system>-<rows>.json`   the request bodies, 1-row and 100-row, from 100 real rows
                             (seeded sample, rows without missing values), each in the format its
                             system expects
- `sample.json`, `expected.json`    those rows and the booster's P(churn) for them
- `build.json`               what was built, with versions

Nothing is rebuilt when `build.json` exists and matches (delete `work/` or pass --force).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from features import PARAMS, fit_classifier  # noqa: E402

VENVS = ROOT / "benchmarks" / ".venvs"
MODEL_NAME = "churn-bench"
MLSERVER_MODEL = "bench"
N_SAMPLE = 100
SEED = 0
BUILD_VERSION = 1  # bump when the build changes


def payloads(sample: list[dict], columns: list[str]) -> dict[str, dict]:
    """Request bodies per system: name → body, for 1 and N_SAMPLE rows."""
    out = {}
    for n in (1, len(sample)):
        rows = sample[:n]
        out[f"pmle-{n}"] = {"instances": rows}
        out[f"fastapi-{n}"] = {"instances": rows}
        out[f"mlflow-{n}"] = {"dataframe_records": rows}
        out[f"mlserver-{n}"] = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [n, len(columns)],
                    "datatype": "FP64",
                    "data": [float(r[c]) for r in rows for c in columns],
                }
            ]
        }
    return out


def build_peer(peer: str, work: Path) -> None:
    py = VENVS / f"serving-{peer}" / "bin" / "python"
    if not py.exists():
        print(f"[model] {peer}: no venv at {py.parent.parent} yet (setup_envs.sh); skipped")
        return
    print(f"[model] {peer}: building in {py.parent.parent.name}")
    subprocess.run([str(py), str(HERE / "build_peer.py"), peer, str(work)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=HERE / "work")
    ap.add_argument("--force", action="store_true", help="rebuild everything")
    ap.add_argument("--peers", default="mlflow,fastapi", help="peer model files to build")
    args = ap.parse_args()
    work: Path = args.work.resolve()
    peers = [p for p in args.peers.split(",") if p]

    stamp = work / "build.json"
    if stamp.exists() and not args.force:
        info = json.loads(stamp.read_text())
        if info.get("build_version") == BUILD_VERSION:
            missing = [p for p in peers if not (work / info["peer_files"][p]).exists()]
            for p in missing:
                build_peer(p, work)
            print(f"[model] reusing {work}")
            return
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)

    import lightgbm
    import numpy as np
    import pandas as pd

    import pmle
    from pmle.workspace import init

    model, X, _y, cats = fit_classifier()
    booster = model.booster_
    booster.save_model(str(work / "model.txt"))
    ref = lightgbm.Booster(model_file=str(work / "model.txt"))
    print(
        f"[model] fitted LGBMClassifier on {len(X)} rows x {X.shape[1]} features; "
        f"categorical (integer codes): {', '.join(cats)}"
    )

    # the sample: real rows without missing values (JSON has no NaN)
    complete = X.dropna()
    idx = complete.sample(n=N_SAMPLE, random_state=SEED).index
    Xs = X.loc[idx]
    columns = list(X.columns)
    sample = [
        {
            c: (int(v) if pd.api.types.is_integer_dtype(X[c].dtype) else float(v))
            for c, v in row.items()
        }
        for row in Xs.to_dict(orient="records")
    ]
    expected = ref.predict(Xs)
    wrapper = model.predict_proba(Xs)[:, 1]
    assert np.max(np.abs(expected - wrapper)) < 1e-12, "booster and wrapper disagree"
    (work / "sample.json").write_text(json.dumps({"columns": columns, "rows": sample}))
    (work / "expected.json").write_text(
        json.dumps({"p_churn": expected.tolist(), "rows": [int(i) for i in idx]})
    )
    pdir = work / "payloads"
    pdir.mkdir()
    for name, body in payloads(sample, columns).items():
        (pdir / f"{name}.json").write_text(json.dumps(body, separators=(",", ":")))

    # (a) the pmle workspace, model registered
    ws = init(work / "pmle")
    mv = ws.models.register(
        MODEL_NAME,
        model,
        input_example=X.head(),
        description="serving benchmark: LightGBM 200 trees on the telco churn demo data",
    )
    ws.close()
    print(f"[model] pmle: registered {mv.ref} in {work / 'pmle'}")

    # (b) MLServer: model.txt + model-settings.json (uri relative to the settings file)
    mdir = work / "mlserver" / MLSERVER_MODEL
    mdir.mkdir(parents=True)
    shutil.copy(work / "model.txt", mdir / "model.txt")
    (mdir / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MLSERVER_MODEL,
                "implementation": "mlserver_lightgbm.LightGBMModel",
                "parameters": {"uri": "./model.txt"},
            },
            indent=2,
        )
    )

    info = {
        "build_version": BUILD_VERSION,
        "model": "lightgbm.LGBMClassifier",
        "params": PARAMS,
        "rows": len(X),
        "features": columns,
        "categorical": cats,
        "sample_rows": N_SAMPLE,
        "pmle_model": mv.ref,
        "mlserver_model": MLSERVER_MODEL,
        "versions": {
            "pmle": pmle.__version__,
            "lightgbm": lightgbm.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
        "peer_files": {"mlflow": "mlflow/model/MLmodel", "fastapi": "fastapi/model.joblib"},
    }
    stamp.write_text(json.dumps(info, indent=1))

    # (c) mlflow and (d) fastapi: built in their own venvs
    for p in peers:
        build_peer(p, work)
    print(f"[model] done: {work}")


if __name__ == "__main__":
    main()
