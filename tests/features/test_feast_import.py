"""Importing a Feast feature repository: the example repository in feast_repo/ (a real Feast
0.67 repository, checked against Feast by feast_repo/verify_with_feast.py) is parsed without
Feast, imported into a workspace, and served; small repositories written here cover the rest
of the static evaluation and the errors."""

from __future__ import annotations

import importlib.util
import shutil
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from pmle.errors import InvalidInput
from pmle.features.feast_import import import_feast_repo
from pmle.features.feast_repo import read_feast_repo
from pmle.workspace import Workspace

EXAMPLE = Path(__file__).parent / "feast_repo"
HOUR, DAY = 3600.0, 86400.0


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("feast_repo_data", EXAMPLE / "generate_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DATA = _generator()
ANCHOR: pd.Timestamp = DATA.ANCHOR


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the example repository, without data."""
    target = tmp_path / "feast_repo"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("data", "__pycache__"))
    return target


@pytest.fixture
def frames(repo: Path) -> dict[str, pd.DataFrame]:
    """The example's data written into the copy (deterministic)."""
    return dict(DATA.write_data(repo))


def latest(
    frame: pd.DataFrame, ts: str, at: pd.Timestamp, ttl: float | None, **keys: Any
) -> pd.Series | None:
    """The row a point-in-time lookup must find: the newest at or before `at`, within the TTL."""
    rows = frame
    for key, value in keys.items():
        rows = rows[rows[key] == value]
    rows = rows[rows[ts] <= at]
    if ttl is not None:
        rows = rows[rows[ts] >= at - pd.Timedelta(seconds=ttl)]
    return None if rows.empty else rows.sort_values(ts).iloc[-1]


def write_repo(folder: Path, files: dict[str, str], yaml: str = "project: demo\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feature_store.yaml").write_text(yaml)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))
    return folder


# -- reading the example ------------------------------------------------------------------------


def test_example_repository_is_read_without_feast(repo: Path) -> None:
    parsed = read_feast_repo(repo)  # no data needed to read the definitions
    assert (parsed.project, parsed.provider, parsed.registry) == (
        "bikeshare",
        "local",
        "data/registry.db",
    )
    assert parsed.online_store == {"type": "sqlite", "path": "data/online_store.db"}
    assert parsed.offline_store == {"type": "file"}
    # .feastignore keeps the helper scripts out, as `feast apply` does
    assert parsed.files == (
        "bikes_entities.py",
        "bikes_services.py",
        "bikes_sources.py",
        "bikes_views.py",
    )
    assert [(e.name, e.join_keys, e.file, e.line) for e in parsed.entities] == [
        ("station", ("station_id",), "bikes_entities.py", 5),
        ("rider", ("rider_id",), "bikes_entities.py", 12),
    ]
    sources = {s.name: s for s in parsed.sources}
    assert set(sources) == {
        "station_status_log",
        "rider_activity",
        "station_info",
        "data/rider_station_weekly.parquet",  # inline, unnamed: Feast names it by its path
    }
    status = sources["station_status_log"]
    assert status.path == str(repo / "data" / "station_status.parquet")  # relative to the repo
    assert (status.timestamp_field, status.created_timestamp_column) == (
        "observed_at",
        "ingested_at",
    )
    assert sources["station_info"].path == str(repo / "data" / "station_info.parquet")
    assert sources["rider_activity"].field_mapping == {"plan_name": "plan"}

    views = {v.name: v for v in parsed.views}
    assert list(views) == [
        "station_status",
        "rider_profile",
        "rider_station_affinity",
        "station_info",
    ]
    status_view = views["station_status"]
    assert status_view.ttl == 6 * HOUR
    assert status_view.source == "station_status_log"
    # the join key listed in the schema is an entity column, not a feature
    assert [(f.name, f.feast_dtype, f.dtype) for f in status_view.fields or ()] == [
        ("bikes_available", "Int64", "int64"),
        ("docks_available", "Int32", "int64"),
        ("fill_ratio", "Float32", "float64"),
        ("is_renting", "Bool", "bool"),
    ]
    assert status_view.tags == {"team": "operations", "refresh": "hourly"}
    assert status_view.owner == "ops@bikes.example"
    assert status_view.online is True
    profile = views["rider_profile"]
    assert profile.ttl == 30 * DAY
    assert [(f.name, f.dtype) for f in profile.fields or ()] == [
        ("trips_30d", "int64"),
        ("avg_trip_minutes", "float64"),
        ("plan", "string"),
        ("last_trip_at", "timestamp"),
    ]
    affinity = views["rider_station_affinity"]
    assert affinity.entities == ("rider", "station")
    assert affinity.ttl == 14 * DAY
    assert views["station_info"].fields is None  # no schema: inferred from the data
    assert views["station_info"].ttl is None  # no ttl: values never expire

    skipped = {(s.kind, s.name): s for s in parsed.skipped}
    assert set(skipped) == {
        ("RequestSource", "group_request"),
        ("OnDemandFeatureView", "bikes_after_group"),
        ("FeatureService", "commute_planner_v1"),
        ("feature", "rider_profile:recent_stations"),
    }
    assert skipped["OnDemandFeatureView", "bikes_after_group"].file == "bikes_services.py"
    assert "request time" in skipped["OnDemandFeatureView", "bikes_after_group"].reason
    assert "Array(Int64)" in skipped["feature", "rider_profile:recent_stations"].reason
    assert "feature services" in skipped["FeatureService", "commute_planner_v1"].reason
    assert any("ingested_at" in n for n in parsed.notes)


# -- importing the example ----------------------------------------------------------------------


def test_example_imports_and_serves(ws: Workspace, repo: Path, frames: dict[str, Any]) -> None:
    report = import_feast_repo(ws, repo)
    assert report.applied
    assert [(c.action, c.kind, c.name) for c in report.plan.changes] == [
        ("create", "entity", "station"),
        ("create", "entity", "rider"),
        ("create", "feature view", "station_status"),
        ("create", "feature view", "rider_profile"),
        ("create", "feature view", "rider_station_affinity"),
        ("create", "feature view", "station_info"),
    ]
    assert report.datasets == {
        "station_status_log": "station_status_log@1",
        "rider_activity": "rider_activity@1",
        "station_info": "station_info@1",
        "data/rider_station_weekly.parquet": "rider_station_weekly@1",
    }
    assert ws.datasets.get("station_status_log").num_rows == len(frames["station_status"])
    info = ws.features.view("station_info").view
    assert info.feature_names == ["capacity", "elevation_m", "has_chargers"]
    assert [f.dtype for f in info.features] == ["int64", "float64", "bool"]
    status = ws.features.view("station_status").view
    assert (status.dataset, status.timestamp, status.ttl) == (
        "station_status_log",
        "observed_at",
        6 * HOUR,
    )
    assert status.tags == {"team": "operations", "refresh": "hourly"}
    assert ws.features.view("rider_profile").view.feature_names == [
        "trips_30d",
        "avg_trip_minutes",
        "plan",
        "last_trip_at",
    ]
    assert report.to_dict()["skipped"][0]["kind"] == "RequestSource"

    # importing again changes nothing: same dataset versions, every definition unchanged
    again = import_feast_repo(ws, repo)
    assert again.datasets == report.datasets
    assert not again.plan.has_changes

    # point in time, hand-checked rows: (station, rider, time)
    at = [
        (7, 100, ANCHOR - pd.Timedelta(hours=11)),  # station 7 still reported then
        (7, 110, ANCHOR),  # station 7 silent for 10 h > 6 h; rider 110 gone for 40 days
        (8, 110, ANCHOR + pd.Timedelta(hours=2)),  # a later time sees station 8's later rows
        (1, 101, ANCHOR - pd.Timedelta(hours=49)),  # before any station report
        (3, 101, ANCHOR - pd.Timedelta(days=25)),  # before station 3's rebuild
        (3, 101, ANCHOR),
        (9, 999, ANCHOR),  # unknown entities
    ]
    entity_rows = pd.DataFrame(
        [{"station_id": s, "rider_id": r, "event_timestamp": t} for s, r, t in at]
    )
    features = [
        "station_status:bikes_available",
        "station_status:fill_ratio",
        "rider_profile:plan",
        "rider_profile:trips_30d",
        "station_info:capacity",
    ]
    table = ws.features.training_set(entity_rows, features).to_pandas()
    assert table["capacity"].tolist()[:6] == [26, 26, 28, 14, 18, 30]
    assert pd.isna(table["capacity"].iloc[6])
    plans = [None if pd.isna(p) else p for p in table["plan"]]
    assert plans == ["monthly", None, None, "annual", "day-pass", "annual", None]
    missing = table["bikes_available"].isna().tolist()
    assert missing == [False, True, False, True, True, False, True]  # reports cover 48 h
    status_frame, riders = frames["station_status"], frames["rider_activity"]
    for n, (station, rider, when) in enumerate(at):
        row = latest(status_frame, "observed_at", when, 6 * HOUR, station_id=station)
        got = table["bikes_available"].iloc[n]
        assert (row is None and pd.isna(got)) or got == row["bikes_available"], n
        if row is not None:
            assert table["fill_ratio"].iloc[n] == pytest.approx(float(row["fill_ratio"]))
        profile_row = latest(riders, "computed_at", when, 30 * DAY, rider_id=rider)
        got = table["trips_30d"].iloc[n]
        assert (profile_row is None and pd.isna(got)) or got == profile_row["trips_30d"], n
    # the row at ANCHOR + 2 h is one of station 8's reports after the anchor
    assert (
        latest(status_frame, "observed_at", at[2][2], 6 * HOUR, station_id=8)["observed_at"]
        > ANCHOR
    )

    # online: materialized as of the anchor, read as of the anchor
    runs = ws.features.materialize(end=ANCHOR.timestamp())
    assert {r.view for r in runs} == set(report.online_views)
    rows = [{"station_id": s} for s in range(1, 10)]
    online = ws.features.online_features(
        [
            "station_status:bikes_available",
            "station_status:is_renting",
            "station_info:capacity",
            "station_info:has_chargers",
        ],
        rows,
        now=ANCHOR.timestamp(),
    )
    for got in online:
        station = got["station_id"]
        row = latest(status_frame, "observed_at", ANCHOR, 6 * HOUR, station_id=station)
        if row is None:
            assert got["bikes_available"] is None and got["is_renting"] is None
        else:
            assert got["bikes_available"] == row["bikes_available"]
            assert got["is_renting"] == bool(row["is_renting"])
    assert [g["bikes_available"] is None for g in online] == [False] * 6 + [True, False, True]
    # station 8's reports after the anchor were not materialized
    eight = latest(status_frame, "observed_at", ANCHOR, None, station_id=8)
    assert eight is not None and online[7]["bikes_available"] == eight["bikes_available"]
    assert [g["capacity"] for g in online] == [14, 16, 30, 20, 22, 24, 26, 28, None]
    assert [g["has_chargers"] for g in online][:4] == [False, True, True, True]

    profiles = ws.features.online_features(
        ["rider_profile:plan", "rider_profile:last_trip_at", "rider_profile:avg_trip_minutes"],
        [{"rider_id": 101}, {"rider_id": "104"}, {"rider_id": 110}],
        now=ANCHOR.timestamp(),
    )
    for got in profiles:
        row = latest(riders, "computed_at", ANCHOR, 30 * DAY, rider_id=int(got["rider_id"]))
        if row is None:
            assert got["plan"] is None
            continue
        assert got["plan"] == row["plan_name"]  # the field mapping renamed the column
        assert pd.Timestamp(got["last_trip_at"]) == row["last_trip_at"]
        assert got["avg_trip_minutes"] == pytest.approx(row["avg_trip_minutes"])
    assert profiles[0]["plan"] == "annual"
    assert profiles[2]["plan"] is None  # rider 110: last snapshot 40 days old, TTL 30 days

    pairs = ws.features.online_features(
        ["rider_station_affinity:rides_started", "rider_station_affinity:share_of_rides"],
        [{"rider_id": 100, "station_id": s} for s in (1, 2, 8)],
        now=ANCHOR.timestamp(),
    )
    weekly = frames["rider_station_weekly"]
    for got in pairs:
        row = latest(
            weekly, "week_start", ANCHOR, 14 * DAY, rider_id=100, station_id=got["station_id"]
        )
        expected = None if row is None else row["rides_started"]
        assert got["rides_started"] == expected
    assert pairs[2]["rides_started"] is None  # rider 100 never uses station 8


def test_plan_only_and_prefix(ws: Workspace, repo: Path, frames: dict[str, Any]) -> None:
    report = import_feast_repo(ws, repo, dataset_prefix="bikes_", apply=False)
    assert not report.applied
    assert report.plan.has_changes
    assert ws.features.views() == []  # nothing registered
    assert report.datasets["station_status_log"] == "bikes_station_status_log@1"
    assert report.datasets["data/rider_station_weekly.parquet"] == "bikes_rider_station_weekly@1"
    assert {v.dataset for v in report.definitions.views} == {
        "bikes_station_status_log",
        "bikes_rider_activity",
        "bikes_rider_station_weekly",
        "bikes_station_info",
    }


# -- the static evaluation ------------------------------------------------------------------------


def test_static_evaluation_of_other_styles(ws: Workspace, tmp_path: Path) -> None:
    """Attribute access on `feast`, aliases, sub-packages, older parameter names, computed
    paths and durations, push sources, warehouse sources, online=False."""
    root = tmp_path / "repo"
    files = {
        "defs/__init__.py": "",
        "defs/common.py": """
            import feast
            from feast import ValueType

            courier = feast.Entity(name="courier", join_key="courier_id",
                                   value_type=ValueType.INT64)
            HOURS = 3
        """,
        "views.py": """
            import os
            from datetime import timedelta as td

            from defs.common import HOURS, courier
            from feast import BigQuerySource, Feature, FeatureView, FileSource, PushSource
            from feast import ValueType
            from google.protobuf.duration_pb2 import Duration

            DATA = os.path.join(os.path.dirname(__file__), "data")
            deliveries = FileSource(
                path=os.path.join(DATA, "deliveries.parquet"),
                event_timestamp_column="ts",
            )
            pushed = PushSource(name="pushed_deliveries", batch_source=deliveries)
            warehouse = BigQuerySource(name="bq", table="proj.ds.t", timestamp_field="ts")

            courier_stats = FeatureView(
                name="courier_stats",
                entities=[courier],
                ttl=td(seconds=60 * 60 * HOURS),
                batch_source=pushed,
                features=[Feature(name="late", dtype=ValueType.INT64),
                          Feature(name="km", dtype=ValueType.DOUBLE)],
                online=False,
            )
            in_warehouse = FeatureView(name="in_warehouse", entities=[courier],
                                       ttl=Duration(seconds=60), source=warehouse)
        """,
        "scratch/ignored.py": "this is not python",
        ".feastignore": "scratch/  # drafts\n",
    }
    write_repo(root, files, "project: couriers\nonline_store:\n  type: redis\n")
    (root / "data").mkdir()
    pd.DataFrame(
        {
            "courier_id": [1, 1, 2],
            "ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 12:00", "2026-01-01 11:00"]),
            "late": [0, 2, 1],
            "km": [3.5, 7.25, 1.0],
        }
    ).to_parquet(root / "data" / "deliveries.parquet")

    parsed = read_feast_repo(root)
    assert parsed.files == ("defs/common.py", "views.py")
    assert [(e.name, e.join_keys, e.file) for e in parsed.entities] == [
        ("courier", ("courier_id",), "defs/common.py")
    ]
    (view,) = parsed.views
    assert (view.name, view.ttl, view.online) == ("courier_stats", 3 * HOUR, False)
    assert [(f.name, f.dtype) for f in view.fields or ()] == [("late", "int64"), ("km", "float64")]
    (source,) = parsed.sources
    assert source.path == str(root / "data" / "deliveries.parquet")
    assert source.timestamp_field == "ts"
    skipped = {(s.kind, s.name) for s in parsed.skipped}
    assert skipped == {
        ("PushSource", "pushed_deliveries"),
        ("BigQuerySource", "bq"),
        ("FeatureView", "in_warehouse"),
    }
    assert any("batch source" in n for n in parsed.notes)
    assert any("online=False" in n for n in parsed.notes)
    assert any("redis" in n for n in parsed.notes)

    report = import_feast_repo(ws, root)
    assert report.online_views == []
    assert report.datasets == {source.name: "deliveries@1"}
    ws.features.materialize(["courier_stats"], end=pd.Timestamp("2026-01-01 13:00", tz="UTC"))
    got = ws.features.online_features(
        ["courier_stats:late", "courier_stats:km"],
        [{"courier_id": 1}, {"courier_id": 2}],
        now=pd.Timestamp("2026-01-01 13:30", tz="UTC").timestamp(),
    )
    assert got == [
        {"courier_id": 1, "late": 2, "km": 7.25},
        {"courier_id": 2, "late": 1, "km": 1.0},
    ]


# -- errors ---------------------------------------------------------------------------------------


def test_a_folder_without_feature_store_yaml(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no feature_store\.yaml"):
        read_feast_repo(tmp_path)


def test_unparseable_python_names_file_and_line(repo: Path) -> None:
    (repo / "broken_views.py").write_text("from feast import FeatureView\n\nx = FeatureView(\n")
    with pytest.raises(InvalidInput, match=r"broken_views\.py:3: not valid Python"):
        read_feast_repo(repo)


def test_missing_source_file_names_the_definition(
    ws: Workspace, repo: Path, frames: dict[str, Any]
) -> None:
    (repo / "data" / "rider_activity.parquet").unlink()
    with pytest.raises(InvalidInput) as caught:
        import_feast_repo(ws, repo)
    message = str(caught.value)
    assert "bikes_sources.py:16" in message and "rider_activity" in message
    assert "does not exist" in message
    assert ws.features.views() == []


def test_unknown_entity_names_file_and_line(repo: Path) -> None:
    (repo / "extra_views.py").write_text(
        textwrap.dedent(
            """
            from bikes_sources import station_status_source
            from feast import FeatureView, Field
            from feast.types import Int64

            dock_faults = FeatureView(
                name="dock_faults",
                entities=[dock],
                schema=[Field(name="bikes_available", dtype=Int64)],
                source=station_status_source,
            )
            """
        )
    )
    with pytest.raises(
        InvalidInput,
        match=r"extra_views\.py:6: feature view 'dock_faults' uses "
        r"entity 'dock', which the repository does not define",
    ):
        read_feast_repo(repo)


def test_values_that_cannot_be_read_statically(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path / "repo",
        {
            "views.py": """
                import os
                from datetime import timedelta
                from feast import Entity, FeatureView, FileSource

                shop = Entity(name="shop", join_keys=["shop_id"])
                src = FileSource(name="sales", path=os.environ["SALES"], timestamp_field="ts")
            """
        },
    )
    with pytest.raises(InvalidInput, match=r"views\.py:7: path= of FileSource .*os\.environ"):
        read_feast_repo(root)
    (root / "views.py").write_text(
        textwrap.dedent(
            """
            from datetime import timedelta
            from feast import Entity, FeatureView, FileSource

            shop = Entity(name="shop", join_keys=["shop_id"])
            src = FileSource(name="sales", path="sales.parquet", timestamp_field="ts")
            sales = FeatureView(name="sales", entities=[shop], source=src,
                                ttl=timedelta(days=int(LOOKBACK)))
            """
        )
    )
    with pytest.raises(InvalidInput, match=r"views\.py:7: the ttl of feature view 'sales'"):
        read_feast_repo(root)


def test_duplicate_names_are_errors(tmp_path: Path) -> None:
    root = write_repo(
        tmp_path / "repo",
        {
            "a.py": 'from feast import Entity\nshop = Entity(name="shop", join_keys=["id"])\n',
            "b.py": 'from feast import Entity\nstore = Entity(name="shop", join_keys=["id"])\n',
        },
    )
    with pytest.raises(InvalidInput, match=r"b\.py:2: entity 'shop' is also defined at a\.py:2"):
        read_feast_repo(root)


def test_generated_data_is_deterministic(tmp_path: Path) -> None:
    first = DATA.write_data(tmp_path / "one")
    second = DATA.write_data(tmp_path / "two")
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[name])
        assert (tmp_path / "one" / "data" / f"{name}.parquet").stat().st_size < 100_000


def test_the_command_line_import(ws: Any, repo: Path, frames: dict[str, pd.DataFrame]) -> None:
    """`pmle features import-feast` applies the repository and lists what it skipped."""
    import json

    from typer.testing import CliRunner

    from pmle.cli.app import app

    res = CliRunner().invoke(
        app, ["-w", str(ws.root), "features", "import-feast", str(repo), "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["skipped"] and {v.name for v in ws.features.views()}
