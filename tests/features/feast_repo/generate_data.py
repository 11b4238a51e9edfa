"""Write the example repository's Parquet files into `<repo>/data/`.

Deterministic: a fixed seed, and every time is an offset from `anchor` (by default
ANCHOR). Offsets keep at least a minute away from each view's TTL boundary, so "expired"
never depends on rounding. Usage: `python generate_data.py REPO [ANCHOR_ISO]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ANCHOR = pd.Timestamp("2026-03-02 12:00", tz="UTC")
STATIONS = list(range(1, 9))
RIDERS = list(range(100, 112))
PLANS = ["annual", "monthly", "day-pass"]


def station_status(rng: np.random.Generator, anchor: pd.Timestamp) -> pd.DataFrame:
    """Hourly reports over two days; station 7 went silent 10 h ago (past the 6 h TTL);
    station 8 also has reports after the anchor (future rows, never served as of it)."""
    rows = []
    for station in STATIONS:
        capacity = int(rng.integers(12, 30))
        first_hour = 10 if station == 7 else 0
        hours = list(range(first_hour, 48))
        if station == 8:
            hours = [-3, -2, -1, *hours]
        for hour in hours:
            minutes = int(rng.integers(1, 51))
            observed = anchor - pd.Timedelta(hours=hour, minutes=minutes)
            bikes = int(rng.integers(0, capacity + 1))
            rows.append(
                {
                    "station_id": station,
                    "observed_at": observed,
                    "ingested_at": observed + pd.Timedelta(minutes=int(rng.integers(1, 6))),
                    "bikes_available": bikes,
                    "docks_available": capacity - bikes,
                    "fill_ratio": bikes / capacity,
                    "is_renting": bool(rng.random() < 0.85),
                }
            )
    frame = pd.DataFrame(rows)
    frame["docks_available"] = frame["docks_available"].astype("int32")
    frame["fill_ratio"] = frame["fill_ratio"].astype("float32")
    return frame


def rider_activity(rng: np.random.Generator, anchor: pd.Timestamp) -> pd.DataFrame:
    """Daily snapshots over 60 days; riders 110 and 111 stopped 40 days ago (past 30 days)."""
    rows = []
    for rider in RIDERS:
        first_day = 40 if rider >= 110 else 0
        plan = PLANS[rider % 3]
        for day in range(first_day, 60):
            computed = anchor - pd.Timedelta(days=day, hours=int(rng.integers(1, 21)))
            trips = int(rng.integers(0, 45))
            rows.append(
                {
                    "rider_id": rider,
                    "computed_at": computed,
                    "trips_30d": trips,
                    "avg_trip_minutes": round(float(rng.uniform(4, 40)), 2),
                    "plan_name": "annual" if day < 20 and rider == 101 else plan,
                    "last_trip_at": computed - pd.Timedelta(minutes=int(rng.integers(5, 600))),
                    "recent_stations": [int(s) for s in rng.choice(STATIONS, 3)],
                }
            )
    return pd.DataFrame(rows)


def rider_station_weekly(rng: np.random.Generator, anchor: pd.Timestamp) -> pd.DataFrame:
    """Weekly rides per (rider, station) pair, each week starting 12 h before a weekly mark."""
    rows = []
    for rider in RIDERS:
        for station in STATIONS[: 3 + rider % 3]:
            for week in range(8):
                if rng.random() < 0.3:
                    continue
                rows.append(
                    {
                        "rider_id": rider,
                        "station_id": station,
                        "week_start": anchor - pd.Timedelta(days=7 * week, hours=12),
                        "rides_started": int(rng.integers(0, 12)),
                        "share_of_rides": round(float(rng.random()), 4),
                    }
                )
    return pd.DataFrame(rows)


def station_info(anchor: pd.Timestamp) -> pd.DataFrame:
    """Static facts; station 3 was rebuilt 10 days ago (more docks, chargers added)."""
    rows = [
        {
            "station_id": station,
            "valid_from": anchor - pd.Timedelta(days=90, hours=station),
            "capacity": 12 + 2 * station,
            "elevation_m": round(4.5 + 3.25 * station, 2),
            "has_chargers": station % 2 == 0,
        }
        for station in STATIONS
    ]
    rows.append(
        {
            "station_id": 3,
            "valid_from": anchor - pd.Timedelta(days=10, hours=3),
            "capacity": 30,
            "elevation_m": 14.25,
            "has_chargers": True,
        }
    )
    return pd.DataFrame(rows)


def write_data(repo: str | Path, anchor: pd.Timestamp = ANCHOR) -> dict[str, pd.DataFrame]:
    """Write the four Parquet files under `repo/data/`; returns the frames by file stem."""
    rng = np.random.default_rng(20260302)
    frames = {
        "station_status": station_status(rng, anchor),
        "rider_activity": rider_activity(rng, anchor),
        "rider_station_weekly": rider_station_weekly(rng, anchor),
        "station_info": station_info(anchor),
    }
    folder = Path(repo) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for stem, frame in frames.items():
        frame.to_parquet(folder / f"{stem}.parquet", index=False)
    return frames


if __name__ == "__main__":
    anchor = pd.Timestamp(sys.argv[2]) if len(sys.argv) > 2 else ANCHOR
    write_data(sys.argv[1], anchor if anchor.tzinfo else anchor.tz_localize("UTC"))
