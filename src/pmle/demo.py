"""`pmle demo`: the main job of pmle on embedded defaults, as one short guided run.

Import a real dataset shipped with pmle (telco customer churn), profile it, split it
deterministically, train an AutoML model on the training split within a short budget, register
it with the alias `champion`, and show the lineage recorded on the way. Train a BigQuery ML
logistic regression with one SQL statement and compare it with the champion in one query. Tune
a LightGBM in a tracked study (2 trials at a time) and compare its best with the champion. Then
automate it: run
pmle's training pipeline (KFP v2: validate → AutoML → gate → register → deploy) on the training
split, run it again from the cache, and walk the pipeline model's lineage. Then serve it: deploy
the champion on an endpoint, start the server on loopback, send Vertex AI requests over HTTP,
and deploy a challenger (a plain LightGBM) as a 10 % canary. Then monitor it: a window of
ordinary traffic, a window where two features really shift, the monitor's alerts and report,
and the explanation of one prediction. Finally the feature store: billing events as a feature
view, a point-in-time training set, and a model served with online feature lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pmle.automl.job import AutoMLResult
    from pmle.data.datasets import DatasetVersion
    from pmle.demo_features import FeaturesResult
    from pmle.models.registry import ModelVersion
    from pmle.monitoring.monitors import MonitorRun
    from pmle.pipelines.runs import PipelineRun
    from pmle.serving.client import Endpoint
    from pmle.sqlml.engine import SqlResult
    from pmle.storage.lineage import LineageGraph
    from pmle.workspace import Workspace

DATASET = "churn"
TARGET = "churn"
DATA_FILE = "telco_churn.csv.gz"
MODEL = "churn"
ENDPOINT = "churn"
BUDGET_S = 20
CANARY_PERCENT = 10
CANARY_REQUESTS = 200
MONITOR = "churn-drift"
#: The model the demo's training pipeline registers, and its AutoML budget.
PIPELINE_MODEL = "churn_pipeline"
PIPELINE_ENDPOINT = "churn-pipeline"  # where the pipeline deploys what passed its gate
PIPELINE_BUDGET_S = 4.0
#: The SQL model the demo trains, and the query comparing it with the AutoML champion.
SQL_MODEL = "churn_logreg"
SQL_CREATE = (
    f"CREATE OR REPLACE MODEL {SQL_MODEL} "
    f"OPTIONS(model_type='logistic_reg', input_label_cols=['{TARGET}']) "
    "AS SELECT * FROM churn_train"
)
SQL_COMPARE = (
    "SELECT 'logistic_reg' AS model, * FROM "
    f"ML.EVALUATE(MODEL {SQL_MODEL}, TABLE churn_test) "
    f"UNION ALL SELECT 'automl', * FROM ML.EVALUATE(MODEL `{MODEL}@champion`, TABLE churn_test)"
)
#: The features the demo's drifted traffic shifts, and how.
SHIFTED = ("monthly_charges", "contract")

#: Called after each step with the step's name and its result.
OnStep = Callable[[str, Any], None]


@dataclass
class DemoResult:
    """What the demo made."""

    dataset: DatasetVersion
    splits: dict[str, DatasetVersion]
    automl: AutoMLResult
    lineage: LineageGraph
    serving: ServingResult | None = None
    pipeline: PipelineResult | None = None
    sql: list[SqlResult] | None = None  # CREATE MODEL, then the comparison
    tuning: TuningResult | None = None


@dataclass
class PipelineResult:
    """What the pipeline part of the demo ran."""

    run: PipelineRun  # the first run
    cached: PipelineRun  # the same run again, every task from the cache
    model: ModelVersion  # the version the pipeline registered
    lineage: LineageGraph  # upstream of that version


@dataclass
class ServingResult:
    """What the serving part of the demo saw."""

    url: str
    rows: list[dict[str, Any]]
    predictions: list[Any]
    champion_id: str
    challenger_id: str
    served_by: dict[str, int]  # deployed model id → requests it answered
    monitoring: MonitoringResult | None = None
    features: FeaturesResult | None = None


@dataclass
class MonitoringResult:
    """What the monitoring part of the demo saw."""

    monitor: str
    quiet: MonitorRun  # ordinary traffic
    drifted: MonitorRun  # traffic with SHIFTED features moved
    explained: dict[str, Any]  # the instance explained
    explanation: Any  # pmle.monitoring.attributions.Explanation


def sample_data_path() -> Path:
    """The churn CSV shipped inside the package (see resources/ATTRIBUTION.md)."""
    return Path(str(resources.files("pmle.resources").joinpath(DATA_FILE)))


def run_demo(
    ws: Workspace,
    on_step: OnStep | None = None,
    budget_s: float = BUDGET_S,
    on_automl_event: Callable[[str, dict[str, Any]], None] | None = None,
    serve: bool = True,
    pipeline: bool = True,
    sql: bool = True,
    tune: bool = True,
) -> DemoResult:
    """Run the demo in `ws`; `on_step(name, result)` lets an interface show progress."""
    from pmle.automl import train

    step = on_step or (lambda _name, _result: None)
    dv = ws.datasets.import_(
        DATASET,
        sample_data_path(),
        description="Telco customer churn (modeldata::wa_churn, MIT licence)",
    )
    step("imported", dv)
    splits = ws.datasets.split(dv.ref, method="random", fractions=(0.8, 0.1, 0.1), seed=42)
    step("split", splits)
    result = train(
        ws,
        splits["train"].ref,
        TARGET,
        model=MODEL,
        budget=budget_s,
        test_dataset=splits["test"].ref,
        aliases=("champion",),
        on_event=on_automl_event,
    )
    step("automl", result)
    graph = ws.lineage.upstream(result.model_version.lineage_artifact_id or 0)
    step("lineage", graph)
    sql_results = sql_demo(ws, step) if sql else None
    tuned = tuning_demo(ws, splits, result, step) if tune else None
    pipelined = pipeline_demo(ws, dv, splits["train"], step) if pipeline else None
    serving = serve_demo(ws, splits["test"], splits["train"], step) if serve else None
    return DemoResult(dv, splits, result, graph, serving, pipelined, sql_results, tuned)


def sql_demo(ws: Workspace, step: OnStep) -> list[SqlResult]:
    """CREATE MODEL a logistic regression on the training split, then one query comparing
    its test metrics with the AutoML champion's."""
    results = ws.sql_session.execute(f"{SQL_CREATE};\n{SQL_COMPARE}")
    step("sql", results)
    return results


#: The demo's tuning study: a LightGBM over the training split, scored on the validation split.
TUNING_STUDY = "churn-lgbm"
TUNING_EXPERIMENT = "churn-tuning"
TUNING_TRIALS = 6
TUNING_SPACE: dict[str, Any] = {
    "learning_rate": {"type": "double", "min": 0.01, "max": 0.3, "scale": "log"},
    "num_leaves": {"type": "integer", "min": 8, "max": 64},
    "min_child_samples": {"type": "integer", "min": 5, "max": 60},
}


@dataclass
class TuningResult:
    """The demo's tuning study, its best trial, and test ROC AUC of that trial's model
    against the AutoML champion's."""

    study: Any  # pmle.training.tuning.Study
    best: Any  # TrialInfo
    best_test_auc: float
    automl_test_auc: float | None


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    x = frame.drop(columns=[TARGET])
    for column in x.columns:
        if x[column].dtype == object or str(x[column].dtype) in {"str", "string"}:
            x[column] = x[column].astype("category")
    return x


def tuning_demo(
    ws: Workspace, splits: dict[str, DatasetVersion], automl: AutoMLResult, step: OnStep
) -> TuningResult:
    """A tuning study over a LightGBM on the training split, 2 trials at a time, each a
    tracked run scored on the validation split; its best model against the champion on test."""
    import threading

    import lightgbm as lgb
    import numpy as np
    from sklearn.metrics import roc_auc_score

    frames = {name: ws.datasets.to_pandas(dv.ref) for name, dv in splits.items()}
    x_train, y_train = _features(frames["train"]), frames["train"][TARGET] == "Yes"
    x_val, y_val = _features(frames["validation"]), frames["validation"][TARGET] == "Yes"
    models: dict[int, Any] = {}
    lock = threading.Lock()

    def objective(trial: Any) -> float:
        model = lgb.LGBMClassifier(n_estimators=150, num_threads=1, verbose=-1, **trial.params)
        with trial.run.autolog(models=False):  # params and the validation curve on the run
            model.fit(x_train, y_train, eval_X=(x_val,), eval_y=(y_val,))
        with lock:
            models[trial.number] = model
        proba = np.asarray(model.predict_proba(x_val))
        return float(roc_auc_score(y_val, proba[:, 1]))

    study = ws.tuning.create_study(
        TUNING_STUDY,
        TUNING_SPACE,
        metric="val_roc_auc",
        max_trials=TUNING_TRIALS,
        parallel=2,
        experiment=TUNING_EXPERIMENT,
        seed=42,
    )
    study.optimize(objective)
    best = study.best_trial
    model = models[best.number]
    test = frames["test"]
    best_auc = float(
        roc_auc_score(test[TARGET] == "Yes", model.predict_proba(_features(test))[:, 1])
    )
    result = TuningResult(study, best, best_auc, automl.test_metrics.get("auc"))
    step("tuning", result)
    return result


def pipeline_demo(
    ws: Workspace, full: DatasetVersion, train: DatasetVersion, step: OnStep
) -> PipelineResult:
    """Run the training pipeline on the training split (validated against the full table),
    walk the lineage of the model it registered, and run it again: every task from the
    cache."""
    from pmle.pipelines.templates import run_training

    params: dict[str, Any] = {
        "baseline": full.ref,
        "budget_s": PIPELINE_BUDGET_S,
        "endpoint": PIPELINE_ENDPOINT,
    }
    first = run_training(ws, train.ref, TARGET, PIPELINE_MODEL, **params)
    if not first.succeeded:
        raise RuntimeError(f"the demo's training pipeline failed: {first.error}")
    step("pipeline", first)
    model = ws.models.get(f"{PIPELINE_MODEL}@champion")
    graph = ws.lineage.upstream(model.lineage_artifact_id or 0)
    step("pipeline_lineage", (model, graph))
    cached = run_training(ws, train.ref, TARGET, PIPELINE_MODEL, **params)
    step("pipeline_cached", cached)
    return PipelineResult(first, cached, model, graph)


def _challenger(ws: Workspace, train: DatasetVersion) -> Any:
    """A plain LightGBM on the training split, registered as `churn@challenger`."""
    import lightgbm as lgb

    frame = ws.datasets.to_pandas(train.ref)
    x = _features(frame)
    model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, verbose=-1, num_threads=1)
    model.fit(x, frame[TARGET])
    return ws.models.register(
        MODEL,
        model,
        input_example=x.head(),
        aliases=["challenger"],
        inputs=[train.lineage_artifact_id] if train.lineage_artifact_id else None,
        execution="Train",
        description="plain LightGBM challenger",
    )


def serve_demo(
    ws: Workspace, test: DatasetVersion, train: DatasetVersion, step: OnStep
) -> ServingResult:
    """Deploy the champion, serve it over HTTP, then add a challenger at 10 % traffic."""
    import socket
    import threading
    import time

    import uvicorn

    from pmle.server.app import PmleApp
    from pmle.serving.client import Endpoint

    if ENDPOINT not in {e.name for e in ws.endpoints.list()}:
        ws.endpoints.create(ENDPOINT, description="the demo's churn endpoint", log_sampling=1.0)
    champion = ws.endpoints.deploy(ENDPOINT, f"{MODEL}@champion")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            PmleApp(ws, poll_s=0.2), host="127.0.0.1", port=port, log_level="error", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the demo server did not start")
            time.sleep(0.02)
        step("server", url)
        frame = ws.datasets.to_pandas(test.ref).drop(columns=[TARGET]).head(5)
        rows = list(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"))
        endpoint = Endpoint(ENDPOINT, url)
        predictions = endpoint.predict(rows).predictions
        step("predictions", (rows, predictions))
        challenger = _challenger(ws, train)
        deployed = ws.endpoints.deploy(ENDPOINT, challenger.ref, traffic_percent=CANARY_PERCENT)
        _wait_for_deployment(url, deployed.id)
        served_by: dict[str, int] = {}
        for i in range(CANARY_REQUESTS):
            dm = endpoint.predict([rows[i % len(rows)]]).deployed_model_id
            served_by[dm] = served_by.get(dm, 0) + 1
        result = ServingResult(url, rows, predictions, champion.id, deployed.id, served_by)
        step("canary", result)
        result.monitoring = monitor_demo(ws, endpoint, champion.id, test, step)
        from pmle.demo_features import features_demo

        result.features = features_demo(ws, ws.datasets.get(DATASET), url)
        step("features", result.features)
        return result
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def drift(frame: pd.DataFrame) -> pd.DataFrame:
    """The demo's real shift: monthly charges up 60 % and most customers on month-to-month
    contracts; every other feature untouched."""
    import numpy as np

    out = frame.copy()
    out["monthly_charges"] = (out["monthly_charges"] * 1.6).round(2)
    out["contract"] = np.where(np.arange(len(out)) % 10 < 9, "Month-to-month", out["contract"])
    return out


def monitor_demo(
    ws: Workspace, endpoint: Endpoint, champion_id: str, test: DatasetVersion, step: OnStep
) -> MonitoringResult:
    """Monitor the endpoint: an ordinary window, a drifted window, alerts, report; explain one
    prediction."""
    frame = ws.datasets.to_pandas(test.ref).drop(columns=[TARGET])
    half = len(frame) // 2
    if MONITOR in {m.name for m in ws.monitors.list()}:
        ws.monitors.delete(MONITOR)
    log = ws.state_dir / "monitoring" / "alerts.jsonl"
    ws.monitors.create(
        MONITOR,
        endpoint=ENDPOINT,
        model=f"{MODEL}@champion",
        schedule=None,
        sinks=[{"type": "log", "path": str(log)}],
        description="the demo's skew and drift monitor",
    )
    step("monitor", ws.monitors.get(MONITOR))
    # The demo waits until the server has written its log, so windows may end right now.
    info = ws.monitors.get(MONITOR)
    _send(ws, endpoint, champion_id, frame.iloc[:half], since=info.created_at)
    quiet = ws.monitors.run(MONITOR, settle_s=0)
    step("quiet", quiet)
    _send(ws, endpoint, champion_id, drift(frame.iloc[half:]), since=quiet.window_end)
    drifted = ws.monitors.run(MONITOR, settle_s=0)
    step("drifted", drifted)
    row = _records(frame.head(1))[0]
    explanation = ws.explanations.explain(f"{MODEL}@champion", [row])[0]
    result = MonitoringResult(MONITOR, quiet, drifted, row, explanation)
    step("explanation", result)
    return result


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return list(frame.astype(object).where(frame.notna(), None).to_dict(orient="records"))


def _send(
    ws: Workspace,
    endpoint: Endpoint,
    champion_id: str,
    frame: pd.DataFrame,
    since: Any,
    batch: int = 25,
) -> None:
    """Send the rows as Vertex requests and wait until the server's log holds the champion's
    share of them (the log is flushed about once a second)."""
    import time

    from pmle.storage.warehouse import quote_literal

    rows = _records(frame)
    champion = 0
    for i in range(0, len(rows), batch):
        answer = endpoint.predict(rows[i : i + batch])
        if answer.deployed_model_id == champion_id:
            champion += len(rows[i : i + batch])
    query = (
        f"SELECT count(*) AS n FROM prediction_log WHERE endpoint = {quote_literal(ENDPOINT)} "
        f"AND time > {quote_literal(since.isoformat())}::TIMESTAMPTZ "
        f"AND model = {quote_literal(ws.models.get(MODEL + '@champion').ref)}"
    )
    deadline = time.monotonic() + 30
    while ws.warehouse.query_arrow(query).column("n")[0].as_py() < champion:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not write its request log")
        time.sleep(0.2)


def _wait_for_deployment(
    url: str, deployed_id: str, timeout_s: float = 30.0, endpoint: str = ENDPOINT
) -> None:
    """Until the server at `url` serves deployed model `deployed_id` on `endpoint`."""
    import time
    import urllib.error
    import urllib.request

    import orjson

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/v2/models/{endpoint}", timeout=5) as resp:
                if deployed_id in orjson.loads(resp.read())["versions"]:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404: a new endpoint the server has not loaded yet
                raise
        time.sleep(0.1)
    raise RuntimeError(f"the server did not pick up deployed model {deployed_id} on {endpoint}")
