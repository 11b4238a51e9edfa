"""Check pmle's Feast import against real Feast on this example repository (run by hand, once
per Feast version; the pmle tests themselves never need Feast).

    .venv/bin/python tests/features/feast_repo/verify_with_feast.py \
        [--feast-venv benchmarks/.venvs/feast]

The repository is copied to a temp folder and its data generated with the anchor at the
current minute. Feast (in its own virtual environment) runs `feast apply`, `feast
materialize-incremental NOW`, `get_online_features` and `get_historical_features`; pmle
imports the same folder with `import_feast_repo`, materializes up to the same time and
answers the same questions with `online_features` and `training_set`. Every value is
compared; the exit status is 1 on any difference. Last run: Feast 0.67.0, all equal.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FEATURES = {
    "station_status": ["bikes_available", "docks_available", "fill_ratio", "is_renting"],
    "rider_profile": ["trips_30d", "avg_trip_minutes", "plan", "last_trip_at"],
    "rider_station_affinity": ["rides_started", "share_of_rides"],
    "station_info": ["capacity", "elevation_m", "has_chargers"],
}
KEYS = {
    "station_status": ["station_id"],
    "rider_profile": ["rider_id"],
    "rider_station_affinity": ["rider_id", "station_id"],
    "station_info": ["station_id"],
}


def entity_rows(view: str) -> list[dict[str, int]]:
    """The entities asked for online: every one in the data, plus one that is not."""
    stations, riders = range(1, 10), range(100, 113)
    if view == "rider_profile":
        return [{"rider_id": r} for r in riders]
    if view == "rider_station_affinity":
        return [{"rider_id": r, "station_id": s} for r in riders for s in stations]
    return [{"station_id": s} for s in stations]


def entity_frame(view: str, anchor: Any) -> Any:
    """Entity rows at random past times for the point-in-time comparison."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    rows = entity_rows(view) * 4
    span = 3 * 86400 if view == "station_status" else 70 * 86400
    seconds = rng.integers(0, span, len(rows))
    frame = pd.DataFrame(rows)
    frame["event_timestamp"] = anchor - pd.to_timedelta(seconds, unit="s")
    return frame


def feast_side(repo: Path, end: str, out: Path) -> None:
    """Runs in Feast's virtual environment."""
    import feast
    import pandas as pd

    bin_dir = Path(sys.executable).parent
    for args in (["apply"], ["materialize-incremental", end]):
        subprocess.run([str(bin_dir / "feast"), *args], cwd=repo, check=True)
    store = feast.FeatureStore(repo_path=str(repo))
    anchor = pd.Timestamp(end)
    result: dict[str, Any] = {"version": feast.__version__, "online": {}, "historical": {}}
    for view, names in FEATURES.items():
        refs = [f"{view}:{n}" for n in names]
        online = store.get_online_features(features=refs, entity_rows=entity_rows(view))
        result["online"][view] = online.to_df().to_json(orient="records", date_format="iso")
        frame = entity_frame(view, anchor)
        hist = store.get_historical_features(entity_df=frame, features=refs).to_df()
        result["historical"][view] = hist.to_json(orient="records", date_format="iso")
    out.write_text(json.dumps(result))


def same(a: Any, b: Any) -> bool:
    import pandas as pd

    if a is None or a is pd.NaT or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return False
    if isinstance(a, pd.Timestamp | str) and isinstance(b, str) and b[:4].isdigit():
        return pd.Timestamp(a) == pd.Timestamp(b)  # both times (Feast's are ISO text)
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-6)
    return bool(a == b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feast-venv", default=str(HERE.parents[2] / "benchmarks/.venvs/feast"))
    parser.add_argument("--feast-side", nargs=3, metavar=("REPO", "END", "OUT"))
    args = parser.parse_args()
    if args.feast_side:
        feast_side(Path(args.feast_side[0]), args.feast_side[1], Path(args.feast_side[2]))
        return 0

    import pandas as pd

    import pmle
    from pmle.features.feast_import import import_feast_repo

    sys.path.insert(0, str(HERE))
    from generate_data import write_data

    tmp = Path(tempfile.mkdtemp(prefix="pmle-feast-"))
    repo = tmp / "repo"
    shutil.copytree(HERE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    anchor = pd.Timestamp.now(tz="UTC").floor("min")
    write_data(repo, anchor)
    end = pd.Timestamp.now(tz="UTC").floor("s")
    feast_out = tmp / "feast.json"
    python = Path(args.feast_venv) / "bin" / "python"
    subprocess.run(
        [str(python), __file__, "--feast-side", str(repo), end.isoformat(), str(feast_out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    feast_result = json.loads(feast_out.read_text())

    ws = pmle.init(tmp / "ws")
    report = import_feast_repo(ws, repo)
    ws.features.materialize(report.online_views, end=end.timestamp())
    failures = 0
    print(f"Feast {feast_result['version']} vs pmle; anchor {anchor}, materialized to {end}")
    print(f"{'view':<24}{'check':<12}{'rows':>6}{'values':>8}{'non-null':>10}{'differ':>8}")
    for view, names in FEATURES.items():
        refs = [f"{view}:{n}" for n in names]
        online = ws.features.online_features(refs, entity_rows(view), now=end.timestamp())
        training = ws.features.training_set(entity_frame(view, end), refs).to_pandas()
        checks = [
            ("online", KEYS[view], online, json.loads(feast_result["online"][view])),
            (
                "historical",
                [*KEYS[view], "event_timestamp"],
                training.to_dict("records"),
                json.loads(feast_result["historical"][view]),
            ),
        ]
        for check, columns, ours, theirs in checks:

            def key(row: dict[str, Any], columns: list[str] = columns) -> tuple[Any, ...]:
                return tuple(
                    pd.Timestamp(row[c]) if c == "event_timestamp" else int(row[c]) for c in columns
                )

            feast_by_key = {key(r): r for r in theirs}
            assert len(feast_by_key) == len(theirs), "duplicate entity rows"
            values = non_null = differ = dropped = 0
            for row in ours:
                other = feast_by_key.pop(key(row), None)
                if other is None:
                    # Feast's file (dask) offline store drops an entity row whose entity has
                    # rows, none within the TTL; other offline stores keep it with nulls
                    dropped += 1
                    other = dict.fromkeys(names)
                for name in names:
                    values += 1
                    non_null += other[name] is not None
                    if not same(row[name], other[name]):
                        differ += 1
                        if differ <= 3:
                            print(f"  {view}:{name} ({check}) pmle {row} != Feast {other}")
            differ += len(feast_by_key)  # rows Feast returned that pmle did not
            failures += differ
            note = f"  (Feast dropped {dropped} rows; pmle: all null there)" if dropped else ""
            print(f"{view:<24}{check:<12}{len(ours):>6}{values:>8}{non_null:>10}{differ:>8}{note}")
    ws.close()
    print("all values equal" if not failures else f"{failures} values differ")
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
