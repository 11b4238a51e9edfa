"""The Feast side (its own venv, benchmarks/.venvs/feast): point-in-time retrieval with
Feast's local file offline store (``offline_store: {type: file}``, i.e. its Dask store) over
the same feature Parquet file.

A feature repository is written to a temporary folder (a local provider, a file registry,
SQLite online store unused) and the entity and feature view applied before the clock starts;
then ``FeatureStore.get_historical_features(entity_df, features).to_df()`` is timed, with
the entity rows as a pandas DataFrame (read from the same Parquet file, untimed). A multi-view
set (``--features 10m/10v``): one FileSource and FeatureView per view (the set's TTL), and one
call asking for every view's features.

    benchmarks/.venvs/feast/bin/python feast_side.py --data DIR --features 1m|10m/10v
        --entities 10k [--reps 1] [--out FILE.parquet]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload as w

REPO_YAML = """\
project: bench
registry: {registry}
provider: local
online_store:
    type: sqlite
    path: {online}
offline_store:
    type: file
entity_key_serialization_version: 3
auth:
    type: no_auth
"""


def open_store(folder: Path, data: Path, fset: w.FeatureSet):
    """A Feast repository in `folder` with the benchmark's entity and the set's views applied."""
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    (folder / "feature_store.yaml").write_text(
        REPO_YAML.format(registry=folder / "registry.db", online=folder / "online.db")
    )
    store = FeatureStore(repo_path=str(folder))
    entity = Entity(name=w.ENTITY, join_keys=[w.KEY], value_type=ValueType.INT64)
    types = {"float64": Float64, "int64": Int64}
    views = []
    for v in fset.views:
        source = FileSource(
            name=v.dataset, path=str(w.view_path(data, v).resolve()), timestamp_field=v.ts
        )
        views.append(
            FeatureView(
                name=v.name,
                entities=[entity],
                ttl=timedelta(seconds=fset.ttl_s),
                schema=[Field(name=f, dtype=types[v.dtype(f)]) for f in v.features],
                source=source,
                online=False,
            )
        )
    store.apply([entity, *views])
    return store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--features", required=True, type=w.feature_set, help="10m, 10m/10v, …")
    ap.add_argument("--entities", required=True, choices=list(w.ENTITY_SIZES))
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the answer here (Parquet)")
    a = ap.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("FEAST_USAGE", "False")  # no telemetry thread

    import dask
    import feast
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    side = "feast"
    fset = a.features
    started = time.perf_counter()
    entity_df = pq.read_table(w.entity_path(a.data, fset.name, a.entities)).to_pandas()
    refs = fset.refs
    with tempfile.TemporaryDirectory(prefix="features-bench-feast-") as tmp:
        store = open_store(Path(tmp), a.data, fset)
        setup_s = time.perf_counter() - started
        rss_before = w.rss_mib()
        w.log(side, f"repository applied in {setup_s:.1f} s; RSS {rss_before:.0f} MiB")

        def call() -> pd.DataFrame:
            return store.get_historical_features(entity_df=entity_df, features=refs).to_df()

        times, frame = w.timed(call, a.reps)
    w.log(side, f"{fset.name}×{a.entities}: {', '.join(f'{t:.2f}' for t in times)} s")
    result = {
        "side": side,
        "features": fset.name,
        "views": len(fset.views),
        "entities": a.entities,
        "rows_in": len(entity_df),
        "rows_out": len(frame),
        "columns": list(frame.columns),
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "setup_s": setup_s,
        "rss_before_mib": rss_before,
        "versions": {
            "feast": feast.__version__,
            "dask": dask.__version__,
            "pandas": pd.__version__,
            "pyarrow": pa.__version__,
            "python": sys.version.split()[0],
        },
        **w.summary(times),
    }
    if a.out is not None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        w.write_result(table, a.out, fset.features)
    w.emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
