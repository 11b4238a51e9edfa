"""Request-time features and a feature service (pmle reports both as skipped)."""

import pandas as pd
from bikes_views import rider_profile, station_status
from feast import FeatureService, Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Int64

group_request = RequestSource(
    name="group_request",
    schema=[Field(name="riders_in_group", dtype=Int64)],
)


@on_demand_feature_view(
    sources=[station_status, group_request],
    schema=[Field(name="bikes_after_group", dtype=Int64)],
)
def bikes_after_group(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["bikes_after_group"] = inputs["bikes_available"] - inputs["riders_in_group"]
    return out


commute_planner_v1 = FeatureService(
    name="commute_planner_v1",
    features=[station_status[["bikes_available", "fill_ratio"]], rider_profile, bikes_after_group],
    description="Features of the commute planner model",
)
