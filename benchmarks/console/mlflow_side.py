"""The MLflow side (run in MLflow's venv, benchmarks/.venvs/serving-mlflow): log the same runs
and register the same number of models in a SQLite tracking store, for `mlflow server` to show.

    python mlflow_side.py --dir DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload as w


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True)
    a = ap.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{a.dir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    started = time.perf_counter()
    exp = client.create_experiment(w.EXPERIMENT, artifact_location=str(a.dir / "artifacts"))
    last = None
    for i in range(w.RUNS):
        run = client.create_run(exp, run_name=w.run_name(i))
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[
                Metric(f"m{k}", w.metric(i, k, s), now, s)
                for k in range(w.METRICS)
                for s in range(w.STEPS)
            ],
            params=[Param(k, v) for k, v in w.params(i).items()],
        )
        client.set_terminated(run.info.run_id)
        last = run.info.run_id
    for i in range(w.MODELS):
        client.create_registered_model(w.model_name(i))
        client.create_model_version(w.model_name(i), source=str(a.dir / "artifacts"), run_id=last)
    print(
        json.dumps(
            {
                "side": "mlflow",
                "mlflow": mlflow.__version__,
                "experiment_id": exp,
                "store": uri,
                "build_s": time.perf_counter() - started,
            }
        )
    )


if __name__ == "__main__":
    main()
