"""Entities of the bike-share network (Feast 0.67.0 style)."""

from feast import Entity, ValueType

station = Entity(
    name="station",
    join_keys=["station_id"],
    value_type=ValueType.INT64,
    description="A docking station of the network",
)

rider = Entity(
    name="rider",
    join_keys=["rider_id"],
    value_type=ValueType.INT64,
    description="A registered rider",
)
