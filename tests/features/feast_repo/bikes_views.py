"""Feature views over the file sources."""

from datetime import timedelta

from bikes_entities import rider, station
from bikes_sources import rider_activity_source, station_info_source, station_status_source
from feast import FeatureView, Field, FileSource
from feast.types import Array, Bool, Float32, Float64, Int32, Int64, String, UnixTimestamp

STATUS_TTL = timedelta(hours=6)

station_status = FeatureView(
    name="station_status",
    entities=[station],
    ttl=STATUS_TTL,
    schema=[
        Field(name="station_id", dtype=Int64),  # the join key: an entity column, not a feature
        Field(name="bikes_available", dtype=Int64),
        Field(name="docks_available", dtype=Int32),
        Field(name="fill_ratio", dtype=Float32),
        Field(name="is_renting", dtype=Bool),
    ],
    source=station_status_source,
    online=True,
    description="Live availability at each station",
    owner="ops@bikes.example",
    tags={"team": "operations", "refresh": "hourly"},
)

rider_profile = FeatureView(
    name="rider_profile",
    entities=[rider],
    ttl=timedelta(days=30),
    schema=[
        Field(name="trips_30d", dtype=Int64),
        Field(name="avg_trip_minutes", dtype=Float64),
        Field(name="plan", dtype=String),
        Field(name="last_trip_at", dtype=UnixTimestamp),
        Field(name="recent_stations", dtype=Array(Int64)),
    ],
    source=rider_activity_source,
    description="Rolling usage statistics per rider",
    owner="growth@bikes.example",
)

# Two entities, and a source defined inline without a name (Feast names it by its path).
rider_station_affinity = FeatureView(
    name="rider_station_affinity",
    entities=[rider, station],
    ttl=timedelta(weeks=2),
    schema=[
        Field(name="rides_started", dtype=Int64),
        Field(name="share_of_rides", dtype=Float64),
    ],
    source=FileSource(path="data/rider_station_weekly.parquet", timestamp_field="week_start"),
    tags={"team": "growth"},
)

# No schema: Feast infers the features from the source's columns. No ttl: values never expire.
station_info = FeatureView(
    name="station_info",
    entities=[station],
    source=station_info_source,
    description="Static facts about each station",
)
