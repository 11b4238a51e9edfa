"""Where the features come from: Parquet files written by the network's batch jobs."""

from pathlib import Path

import feast

# A relative path: Feast resolves it against the repository folder.
station_status_source = feast.FileSource(
    name="station_status_log",
    path="data/station_status.parquet",
    timestamp_field="observed_at",
    created_timestamp_column="ingested_at",
    description="Dock counts reported by each station about once an hour",
)

rider_activity_source = feast.FileSource(
    name="rider_activity",
    path="data/rider_activity.parquet",
    timestamp_field="computed_at",
    # the nightly job writes `plan_name`; the feature is called `plan`
    field_mapping={"plan_name": "plan"},
)

# An absolute path built from this file's location.
station_info_source = feast.FileSource(
    name="station_info",
    path=str(Path(__file__).parent / "data" / "station_info.parquet"),
    timestamp_field="valid_from",
)
