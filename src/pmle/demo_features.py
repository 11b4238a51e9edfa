"""The feature-store part of `pmle demo`: billing events per customer become a feature view;
a point-in-time training set (features as they were when each label was observed, never
later) trains a model; the model is deployed with online feature lookup, so a request carries
only a customer id.

The events are derived from the churn table (one customer per row): three monthly billing
events before the label date and one after it, which must not leak into training, dated
relative to today so the online values are within the view's time to live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pmle.data.datasets import DatasetVersion
    from pmle.workspace import Workspace

EVENTS = "billing_events"
LABELS = "churn_labels"
VIEW = "billing"
TRAINING_SET = "churn_features_train"
FEATURE_MODEL = "churn_features"
FEATURE_ENDPOINT = "churn-features"
#: billing days and the label date, in days before today
BILLED_DAYS_AGO = (95, 65, 35, 5)
LABEL_DAYS_AGO = 20
FEATURES = ("monthly_charges", "support_tickets", "tenure")
DEFINITIONS: dict[str, Any] = {
    "entities": [{"name": "customer", "join_keys": ["customer_id"]}],
    "feature_views": [
        {
            "name": VIEW,
            "entities": ["customer"],
            "source": {"dataset": EVENTS},
            "timestamp": "billed_at",
            "ttl": "45d",
            "description": "monthly billing: charges, support tickets, tenure",
            "owner": "billing-team",
            "features": [
                {"name": "monthly_charges", "dtype": "float64"},
                {"name": "support_tickets", "dtype": "int64"},
                {"name": "tenure", "dtype": "int64"},
            ],
        }
    ],
}


@dataclass
class FeaturesResult:
    """What the feature-store part of the demo did."""

    events: DatasetVersion
    training_rows: int
    leaked: int  # training rows holding a value from after their label date (must be 0)
    model: str
    request: dict[str, Any]
    looked_up: dict[str, Any]  # the features the endpoint added to the request
    prediction: Any
    direct: Any  # the model called directly with the same features


def _days_ago(days: int) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() - pd.Timedelta(days=days)


def billing_events(churn: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """Three monthly billing events per customer before the label date, one after it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = len(churn)
    frames = []
    for month, days in enumerate(BILLED_DAYS_AGO):
        when = _days_ago(days)
        drift = 1.5 if month == 3 else 1.0  # the bills after the label date are unusual
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": np.arange(n),
                    "billed_at": pd.Timestamp(when),
                    "monthly_charges": churn["monthly_charges"].to_numpy()
                    * drift
                    * rng.normal(1.0, 0.03, n),
                    "support_tickets": rng.poisson(
                        np.where(churn["churn"].to_numpy() == "Yes", 2.0, 0.6)
                    ),
                    "tenure": churn["tenure"].to_numpy().astype("int64") + month,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def features_demo(ws: Workspace, churn: DatasetVersion, url: str) -> FeaturesResult:
    """Events → feature view → point-in-time training set → model → endpoint with lookup."""
    import lightgbm as lgb
    import pandas as pd

    from pmle.serving.client import Endpoint

    frame = ws.datasets.to_pandas(churn.ref)
    events = ws.datasets.import_(EVENTS, billing_events(frame), description="monthly billing")
    ws.features.apply(DEFINITIONS)
    labels = pd.DataFrame(
        {
            "customer_id": range(len(frame)),
            "event_timestamp": _days_ago(LABEL_DAYS_AGO),
            "churn": (frame["churn"] == "Yes").astype(int),
        }
    )
    train = ws.features.training_set(labels, [VIEW], register=TRAINING_SET).to_pandas()
    before = ws.datasets.to_pandas(events.ref)  # the last bill before the label date
    before = before[before["billed_at"] == _days_ago(BILLED_DAYS_AGO[2])].set_index("customer_id")
    leaked = int((train["tenure"] != before.loc[train["customer_id"], "tenure"].to_numpy()).sum())
    model = lgb.LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1, random_state=0)
    x = train[list(FEATURES)]
    model.fit(x, train["churn"])
    version = ws.models.register(
        FEATURE_MODEL,
        model,
        input_example=x.head(),
        inputs=[ws.datasets.get(TRAINING_SET).lineage_artifact_id or 0],
        description="LightGBM on point-in-time billing features",
    )
    ws.features.materialize([VIEW])
    if FEATURE_ENDPOINT not in {e.name for e in ws.endpoints.list()}:
        ws.endpoints.create(FEATURE_ENDPOINT, description="churn with online feature lookup")
    deployed = ws.endpoints.deploy(FEATURE_ENDPOINT, version.ref, features=[VIEW])
    from pmle.demo import _wait_for_deployment

    _wait_for_deployment(url, deployed.id, endpoint=FEATURE_ENDPOINT)
    request = {"customer_id": 42}
    served = Endpoint(FEATURE_ENDPOINT, url).predict([request]).predictions[0]
    (online,) = ws.features.online_features([VIEW], [request])
    looked_up = {k: online[k] for k in FEATURES}
    direct = model.predict_proba(pd.DataFrame([looked_up])[list(FEATURES)])[0].tolist()
    return FeaturesResult(
        events, len(train), leaked, version.ref, request, looked_up, served, direct
    )
