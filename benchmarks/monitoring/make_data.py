"""The monitoring benchmark's data: pmle's demo telco churn data (7,043 rows, 19 features)
resampled with replacement to N rows, plus a derived feature (20 features), as Parquet.

    python benchmarks/monitoring/make_data.py [--sizes 100k,1m,10m] [--out DIR] [--force]

Per size writes `reference-<size>.parquet` (rows drawn with seed 0) and `current-<size>.parquet`
(seed 1, with the planted shift of features.py: monthly_charges × 1.75 and contract drawn from
other proportions; every other feature keeps the reference's distribution). Files are written
in 1M-row batches (row groups of 122,880 rows), so memory stays small at any size; an existing
file is kept unless --force.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from features import (  # noqa: E402
    CATEGORICAL,
    CHARGES_FACTOR,
    CONTRACT_P,
    NUMERIC,
    SERVICES,
    SIZES,
)

SOURCE = ROOT / "src" / "pmle" / "resources" / "telco_churn.csv.gz"
BATCH = 1_000_000
ROW_GROUP = 122_880  # DuckDB's own row group size


def source_table() -> pa.Table:
    """The 7,043 real rows with the derived feature, in the benchmark's column order."""
    with gzip.open(SOURCE, "rb") as f:
        t = pacsv.read_csv(f)
    services = np.sum(
        [pc.equal(t[c], "Yes").to_numpy(zero_copy_only=False) for c in SERVICES], axis=0
    ).astype("int64")
    t = t.append_column("services", pa.array(services))
    cols = {}
    for c in NUMERIC:
        typ = pa.float64() if c in ("monthly_charges", "total_charges") else pa.int64()
        cols[c] = pc.cast(t[c], typ)
    for c in CATEGORICAL:
        cols[c] = pc.cast(t[c], pa.string())
    return pa.table(cols)


def write(src: pa.Table, path: Path, rows: int, seed: int, shift: bool) -> None:
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer = None
    contract_values = np.asarray(list(CONTRACT_P), dtype=object)
    contract_p = np.asarray(list(CONTRACT_P.values()))
    try:
        for start in range(0, rows, BATCH):
            n = min(BATCH, rows - start)
            batch = src.take(pa.array(rng.integers(0, src.num_rows, size=n)))
            if shift:
                i = batch.schema.get_field_index("monthly_charges")
                batch = batch.set_column(
                    i, "monthly_charges", pc.multiply(batch["monthly_charges"], CHARGES_FACTOR)
                )
                i = batch.schema.get_field_index("contract")
                drawn = rng.choice(contract_values, p=contract_p, size=n)
                batch = batch.set_column(i, "contract", pa.array(drawn, type=pa.string()))
            if writer is None:
                writer = pq.ParquetWriter(tmp, batch.schema, compression="zstd")
            writer.write_table(batch, row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
    tmp.rename(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--out", default=str(HERE / "work" / "data"))
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = source_table()
    for size in args.sizes.split(","):
        rows = SIZES[size]
        for name, seed, shift in (("reference", 0, False), ("current", 1, True)):
            path = out / f"{name}-{size}.parquet"
            if path.exists() and not args.force:
                print(f"[data] {path.name}: kept")
                continue
            t0 = time.perf_counter()
            write(src, path, rows, seed, shift)
            mb, took = path.stat().st_size / 2**20, time.perf_counter() - t0
            print(f"[data] {path.name}: {rows:,} rows, {mb:.0f} MB, {took:.1f} s")


if __name__ == "__main__":
    main()
