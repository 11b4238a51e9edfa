"""The pmle side's workspace (pmle's venv): the workload's runs, models and pipeline runs, plus
a dataset, an endpoint with two deployments and an exam attempt so every page has content.

    python pmle_build.py --ws DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload as w

PIPELINE = """
from kfp import dsl
from kfp.dsl import Dataset, Input, Output


@dsl.component(base_image="python:3.11")
def make(n: int, ds: Output[Dataset]) -> int:
    with open(ds.path, "w") as f:
        f.write(",".join(str(i) for i in range(n)))
    return n * 2


@dsl.component(base_image="python:3.11")
def consume(ds: Input[Dataset]) -> str:
    with open(ds.path) as f:
        return f.read().upper()


@dsl.component(base_image="python:3.11")
def score(k: int) -> int:
    return k * 10


@dsl.pipeline(name="bench-pipeline")
def bench(n: int = 3, k: int = 1) -> str:
    made = make(n=n)
    used = consume(ds=made.outputs["ds"])
    score(k=k)
    return used.output
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ws", type=Path, required=True)
    a = ap.parse_args()
    import lightgbm as lgb
    import pandas as pd

    import pmle
    from pmle.demo import sample_data_path

    started = time.perf_counter()
    ws = pmle.init(a.ws)
    ds = ws.datasets.import_("churn", sample_data_path())
    frame = ws.datasets.to_pandas(ds).head(2000)
    label = "Churn" if "Churn" in frame.columns else frame.columns[-1]
    x = frame.drop(columns=[label]).select_dtypes("number")
    y = (frame[label].astype(str) == frame[label].astype(str).iloc[0]).astype(int)
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, verbose=-1).fit(x, y)
    train = ws.datasets.import_("train", x.assign(label=y))
    for i in range(w.MODELS):
        ws.models.register(
            w.model_name(i),
            model,
            input_example=x.head(),
            metrics={"auc": 0.8},
            inputs=[train.lineage_artifact_id],
        )
    ws.models.register(w.model_name(0), model, input_example=x.head(), metrics={"auc": 0.81})
    ws.endpoints.create("churn")
    ws.endpoints.deploy("churn", f"{w.model_name(0)}@1")
    ws.endpoints.deploy("churn", f"{w.model_name(0)}@2", traffic_percent=10)
    t_models = time.perf_counter() - started

    for i in range(w.RUNS):
        with ws.tracking.start_run(w.EXPERIMENT, w.run_name(i), params=w.params(i)) as run:
            for s in range(w.STEPS):
                run.log_metrics({f"m{k}": w.metric(i, k, s) for k in range(w.METRICS)}, step=s)
    t_runs = time.perf_counter() - started - t_models

    src = a.ws / "bench_pipeline.py"
    src.write_text(PIPELINE)
    for i in range(w.PIPELINE_RUNS):
        ws.pipelines.run(f"{src}:bench", {"n": i % 5, "k": 1})
    t_pipes = time.perf_counter() - started - t_models - t_runs

    # a monitor with 10 runs over scored data, drifting more and more (charts, alerts)
    ws.monitors.create("churn-drift", model=f"{w.model_name(0)}@1", schedule=None)
    numeric = [c for c in x.columns if x[c].nunique() > 10]
    for i in range(10):
        rows = x.sample(800, random_state=i).copy()
        for c in numeric:
            rows[c] = rows[c] + i * 0.15 * float(x[c].std())
        ws.datasets.import_("scored", rows)
        ws.monitors.run("churn-drift", data=f"scored@{i + 1}")

    # a tuning study of 30 trials
    study = ws.tuning.create_study(
        "bench-study",
        {
            "x": {"type": "double", "min": -4, "max": 4},
            "k": {"type": "integer", "min": 1, "max": 9},
        },
        metric="loss",
        goal="minimize",
        max_trials=30,
        seed=1,
    )
    study.optimize(lambda t: (t.params["x"] - 1) ** 2 + t.params["k"] / 10)

    # a feature view over an event table, materialized
    events = pd.DataFrame(
        {
            "customer": [f"c{i % 500}" for i in range(5000)],
            "ts": pd.to_datetime(1_767_225_600 + pd.Series(range(5000)) * 60, unit="s", utc=True),
            "spend": [float(i % 97) for i in range(5000)],
        }
    )
    ws.datasets.import_("events", events)
    ws.features.apply(
        {
            "entities": [{"name": "customer", "join_keys": ["customer"]}],
            "feature_views": [
                {
                    "name": "spend",
                    "entities": ["customer"],
                    "source": {"dataset": "events"},
                    "timestamp": "ts",
                    "ttl": "30d",
                    "features": [{"name": "spend", "dtype": "float64"}],
                }
            ],
        }
    )
    ws.features.materialize()

    ws.exam.start_exam()
    print(
        json.dumps(
            {
                "side": "pmle",
                "build_s": time.perf_counter() - started,
                "models_s": t_models,
                "runs_s": t_runs,
                "pipelines_s": t_pipes,
                "counts": ws.counts(),
                "rows": len(pd.DataFrame(frame)),
            }
        )
    )
    ws.close()


if __name__ == "__main__":
    main()
