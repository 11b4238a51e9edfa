"""Lab `catch-drift` (section 6, objective 6.2): a deployed fraud model whose request log holds
a day of planted traffic in which exactly one feature (`amount`) drifted; the user sets up a
monitor with the team's threshold and runs it over that day.

The drift is moderate on purpose: `amount`'s Jensen–Shannon divergence from training is about
0.2 — over the team's 0.1, under Vertex's default 0.3 — while every other feature stays
well under 0.1.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.exam.labs.base import Check, Lab, Planted, fail, ok

if TYPE_CHECKING:
    import pandas as pd

    from pmle.monitoring.records import MonitorRun
    from pmle.workspace import Workspace

DATASET = "transactions"
MODEL = ENDPOINT = "fraud"
LABEL = "fraud"
DRIFTED = "amount"
FEATURES = ("amount", "merchant_category", "hour", "account_age_days", "card_present")
THRESHOLD = 0.1
TRAIN_ROWS, TRAFFIC_ROWS = 3000, 2000
AMOUNT_SCALE = 3.0  # yesterday's amounts against training's

LAB = Lab(
    id="catch-drift",
    title="Catch a drifting feature",
    section=6,
    objectives=("6.2",),
    summary="Monitor an endpoint's logged traffic for skew and alert on the one drifted feature.",
    task=f"""
## Scenario

The model `{MODEL}` scores card transactions on the endpoint `{ENDPOINT}`, which logs every
request (the warehouse view `prediction_log`). It was trained on the dataset `{DATASET}`.
Yesterday the fraud team saw its scores move, and suspects that one input changed: the
request log holds a day of traffic ({TRAFFIC_ROWS:,} requests). The team alerts when a
feature's distance from training reaches **{THRESHOLD}** (Vertex AI's default, 0.3, is too lax
for them).

## What to build

1. A monitor on the endpoint `{ENDPOINT}` comparing served features with the training data
   (training-serving skew), alerting at the team's threshold.
2. A run of it over yesterday's traffic. The traffic was logged before the monitor existed,
   and a monitor's first run starts at its creation, so give the run the window's start
   (find the first logged request in `prediction_log`).

## Success criteria

- a monitor watches the endpoint `{ENDPOINT}`;
- one of its runs covered all of yesterday's traffic;
- that run raised an alert for the drifted feature, and none for the features that did not
  drift ({len(FEATURES)} inputs in all).
""",
    hints=(
        'See what was logged: `pmle sql "SELECT min(time), max(time), count(*) FROM '
        f"prediction_log WHERE endpoint = '{ENDPOINT}'\"`, and `pmle endpoints describe "
        f"{ENDPOINT}`.",
        f"Create the monitor: `pmle monitors create fraud-watch --endpoint {ENDPOINT} "
        f"--default-threshold {THRESHOLD} --schedule none` (its baseline comes from the "
        f"model's training dataset, {DATASET}, found through lineage).",
        "Run it over the day: `pmle monitors run fraud-watch --start TIME` with TIME the "
        "first logged request's time in ISO form (e.g. 2025-01-31T08:00:00+00:00), a little "
        "earlier is fine. It exits with status 3 when it raised alerts.",
        "Read what it found: `pmle monitors show fraud-watch` and `pmle monitors alerts "
        "fraud-watch`. A threshold of 0 alerts on everything; the default 0.3 misses the "
        "drift.",
    ),
)


def transactions(n: int, seed: int, amount_scale: float = 1.0) -> pd.DataFrame:
    """`n` card transactions with whether they were fraud (about 4 %)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    categories = ["grocery", "fuel", "online", "travel", "electronics", "restaurants"]
    category = rng.choice(categories, n, p=[0.3, 0.15, 0.25, 0.08, 0.07, 0.15])
    amount = np.round(rng.lognormal(3.6, 0.9, n) * amount_scale, 2)
    hour = np.round(np.mod(rng.normal(14, 5, n), 24)).astype(int) % 24
    age = np.round(rng.gamma(2.0, 400, n)).astype(int)
    present = rng.random(n) < np.where(category == "online", 0.0, 0.85)
    score = (
        -4.2
        + 0.8 * np.log1p(amount / 100)
        + 1.0 * ~present
        + 0.9 * (category == "electronics")
        + 0.8 * ((hour < 5) | (hour > 22))
        - 0.0008 * np.minimum(age, 1500)
    )
    p = 1 / (1 + np.exp(-score))
    return pd.DataFrame(
        {
            "amount": amount,
            "merchant_category": category,
            "hour": hour,
            "account_age_days": age,
            "card_present": present,
            LABEL: np.where(rng.random(n) < p, "yes", "no"),
        }
    )


def setup(ws: Workspace, folder: Path) -> Planted:
    """Training data, the model with its lineage, the logging endpoint, and a day of traffic
    (ending an hour before now) in its request log."""
    import lightgbm as lgb

    from pmle._util import utcnow

    train = transactions(TRAIN_ROWS, 61)
    dv = ws.datasets.import_(DATASET, train, description="card transactions, labelled")
    x = train.drop(columns=[LABEL]).astype({"merchant_category": "category"})
    model = lgb.LGBMClassifier(
        n_estimators=60,
        num_leaves=15,
        learning_rate=0.1,
        num_threads=1,
        verbose=-1,
        random_state=0,
    ).fit(x, train[LABEL])
    version = ws.models.register(
        MODEL,
        model,
        input_example=x.head(),
        inputs=[dv.lineage_artifact_id] if dv.lineage_artifact_id else None,
        execution="Train",
        description="fraud scorer (LightGBM)",
    )
    ws.endpoints.create(ENDPOINT, description="card fraud scoring", log_sampling=1.0)
    deployed = ws.endpoints.deploy(ENDPOINT, version.ref)
    end = utcnow().replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(hours=23)
    traffic = transactions(TRAFFIC_ROWS, 62, amount_scale=AMOUNT_SCALE).drop(columns=[LABEL])
    _plant_log(ws, version.ref, deployed.id, traffic, start, end)
    return Planted(
        facts={
            "traffic_start": start.isoformat(),
            "traffic_end": end.isoformat(),
            "rows": TRAFFIC_ROWS,
            "drifted": DRIFTED,
            "threshold": THRESHOLD,
        }
    )


def _plant_log(
    ws: Workspace,
    model: str,
    deployed_id: str,
    frame: pd.DataFrame,
    start: datetime,
    end: datetime,
) -> None:
    """The rows as the server's request logger writes them, spread evenly over the window."""
    import numpy as np
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pmle.serving.request_log import schema

    loaded = ws.models.load(model)
    proba = loaded.predict_proba(frame)
    classes = [str(c) for c in loaded.classes or []]
    first, last = start.timestamp(), end.timestamp()
    times = np.linspace(first, last, len(frame))
    records = frame.to_dict("records")
    columns = schema()
    table = pa.table(
        {
            "time": pa.array((times * 1_000_000).astype("int64"), columns.field("time").type),
            "endpoint": [ENDPOINT] * len(frame),
            "deployed_model_id": [deployed_id] * len(frame),
            "model": [model] * len(frame),
            "request_id": [f"req-{i:05d}" for i in range(len(frame))],
            "instance": [
                orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY).decode() for r in records
            ],
            "prediction": [
                orjson.dumps({"classes": classes, "scores": p.tolist()}).decode() for p in proba
            ],
            "latency_ms": np.full(len(frame), 1.5),
        },
        schema=columns,
    )
    folder = ws.prediction_log_dir / ENDPOINT
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"part-{start:%Y%m%dT%H%M%S}-lab-000001.parquet")


def check(ws: Workspace, facts: dict[str, Any]) -> list[Check]:
    """The monitor, a run over the planted day, and its alerts."""
    from pmle._util import as_utc

    start = as_utc(datetime.fromisoformat(str(facts["traffic_start"])))
    end = as_utc(datetime.fromisoformat(str(facts["traffic_end"])))
    drifted = str(facts.get("drifted", DRIFTED))
    threshold = float(facts.get("threshold", THRESHOLD))
    alert, quiet = f"an alert for {drifted}", "no alert for the features that did not drift"
    name = f"a monitor on endpoint {ENDPOINT}"
    monitors = [m for m in ws.monitors.list() if m.endpoint == ENDPOINT]
    if not monitors:
        return [
            fail(
                name,
                f"no monitor watches {ENDPOINT} yet; pmle monitors create NAME "
                f"--endpoint {ENDPOINT} --default-threshold {threshold}",
            ),
            fail("a run over yesterday's traffic", "needs the monitor first"),
            fail(alert, "needs a run first"),
            fail(quiet, "needs a run first"),
        ]
    checks = [ok(name, ", ".join(m.name for m in monitors))]
    covering = [
        r
        for m in monitors
        for r in ws.monitors.runs(m.name)
        if r.state == "COMPLETE"
        and r.window_start is not None
        and r.window_end is not None
        and r.window_start <= start
        and r.window_end >= end
    ]
    name = "a run over yesterday's traffic"
    if not covering:
        since = (start - timedelta(minutes=1)).isoformat()
        return [
            *checks,
            fail(
                name,
                f"no completed run's window holds {start:%Y-%m-%d %H:%M} – {end:%H:%M} UTC; "
                f"run: pmle monitors run {monitors[0].name} --start {since}",
            ),
            fail(alert, "needs a run over that traffic first"),
            fail(quiet, "needs that run"),
        ]
    # a run that got it right, else the latest run over the traffic
    best = next(
        (r for r in covering if _alerted(r) == {drifted}), max(covering, key=lambda r: r.id)
    )
    checks.append(ok(name, f"{best.monitor} run {best.id}: {best.rows:,} rows"))
    found = _alerted(best)
    if drifted in found:
        checks.append(ok(alert, f"run {best.id} alerted on {drifted}"))
    else:
        value = _distance(best, drifted)
        seen = f" (its distance was {value:.3f})" if value is not None else ""
        checks.append(
            fail(
                alert,
                f"run {best.id} raised no alert for {drifted}{seen}; the team's threshold is "
                f"{threshold} — update the monitor (pmle monitors update) and run it again "
                "with --start",
            )
        )
    others = sorted(found - {drifted})
    if others:
        checks.append(
            fail(
                quiet,
                f"run {best.id} also alerted on {', '.join(others)}: their distances stay "
                f"under {threshold}; a lower threshold only adds noise",
            )
        )
    else:
        checks.append(ok(quiet, f"run {best.id} alerted on nothing else"))
    return checks


def _alerted(run: MonitorRun) -> set[str]:
    """The features a run alerted on."""
    return {str(a.get("feature")) for a in run.alerts if a.get("feature")}


def _distance(run: MonitorRun, feature: str) -> float | None:
    """The feature's skew distance in a run, when it was measured."""
    for entry in run.result.get("features", []):
        if entry.get("feature") == feature and entry.get("objective") == "skew":
            value = entry.get("value")
            return float(value) if value is not None else None
    return None
