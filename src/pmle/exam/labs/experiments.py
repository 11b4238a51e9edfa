"""Lab `experiments` (section 2, objectives 2.1 and 2.3): a planted CSV export versioned as a
dataset (raw, then cleaned), and a tracked experiment whose runs vary one hyperparameter and
record the cleaned version as their input."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.exam.labs.base import Check, Lab, Planted, fail, ok

if TYPE_CHECKING:
    import pandas as pd

    from pmle.tracking.records import RunInfo
    from pmle.workspace import Workspace

DATASET = "rentals"
FILE = "data/rentals.csv"
EXPERIMENT = "rentals-price"
METRIC = "val_rmse"
LABEL = "price"
ROWS = 1500
MIN_RUNS = 3
COLUMNS = (
    "listing_id",
    "district",
    "area_m2",
    "rooms",
    "floor",
    "building_year",
    "has_balcony",
    "distance_to_center_km",
    LABEL,
)

LAB = Lab(
    id="experiments",
    title="Versioned data and tracked experiments",
    section=2,
    objectives=("2.1", "2.3"),
    summary="Version a raw export and its cleaned form, then compare tracked runs with lineage.",
    task=f"""
## Scenario

You join a team that prices rental flats. A colleague exported last month's listings to
`{FILE}` (in this folder). Before anyone trains on it, the data gets versions in the
workspace, so that every experiment says exactly which rows it used; then you compare a few
settings of a price model in one tracked experiment.

## What to build

1. The file registered as the dataset `{DATASET}`: its first version is the raw export.
2. Some listings have no `{LABEL}`, so they cannot train a price model. A second version of
   `{DATASET}` holding exactly the rows that have a price, every column kept.
3. In the experiment `{EXPERIMENT}`, at least {MIN_RUNS} training runs that differ in one
   hyperparameter (a tree count, `num_leaves`, a regularisation strength …). Each run
   - logs that hyperparameter as a parameter,
   - logs `{METRIC}`: the RMSE of its model on rows held out from its training,
   - records the cleaned dataset version as its input (lineage).

## Success criteria

- `{DATASET}` has a version with all {ROWS:,} rows of the file;
- and a version with exactly the rows that have a price, none missing;
- `{EXPERIMENT}` has ≥ {MIN_RUNS} finished runs that log `{METRIC}` and read the cleaned
  version;
- one parameter takes ≥ {MIN_RUNS} different values across those runs.
""",
    hints=(
        f"Register the file: `pmle data import {DATASET} {FILE}`, then look at it with "
        f"`pmle data show {DATASET}` and `pmle data stats {DATASET}` (how many prices are "
        "missing?).",
        f'A version from SQL: `pmle data import {DATASET} --sql "SELECT * FROM {DATASET} WHERE '
        f'{LABEL} IS NOT NULL"` (the view `{DATASET}` is the newest version, `"{DATASET}@1"` '
        "a given one).",
        f'A tracked run in Python: `with pmle.start_run("{EXPERIMENT}", params={{'
        f'"num_leaves": 15}}) as run:` then `run.log_dataset("{DATASET}@2")`, train on a '
        f'split of `pmle.open_workspace().datasets.to_pandas("{DATASET}@2")`, and '
        f'`run.log_metric("{METRIC}", rmse)`. Or a script run as a job: `pmle jobs run '
        f"train.py --experiment {EXPERIMENT} --data {DATASET}@2 -- --num-leaves 15` records "
        "the dataset itself; inside it `pmle.job_run()` is the run to log to.",
        f'Compare the runs: `pmle experiments show {EXPERIMENT} --order-by "metrics.{METRIC}"`; '
        f"`pmle lineage {DATASET}@2 --downstream` shows the runs that read the version.",
    ),
)


def rentals(n: int, seed: int) -> pd.DataFrame:
    """`n` listings; about 4 % have no price."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    districts = ["centre", "old-town", "riverside", "university", "harbour", "suburbs"]
    level = np.array([21.0, 18.5, 16.0, 14.5, 15.0, 11.0])
    district = rng.integers(0, len(districts), n)
    area = np.round(rng.gamma(6.0, 11.0, n) + 18, 1)
    rooms = np.clip(np.round(area / 28 + rng.normal(0, 0.6, n)), 1, 6).astype(int)
    floor = rng.integers(0, 9, n)
    built = rng.integers(1900, 2024, n)
    balcony = rng.random(n) < 0.45
    distance = np.round(rng.gamma(2.0, 1.6, n) + 0.3 * district, 2)
    price = (
        area
        * level[district]
        * (1 + 0.06 * balcony)
        * (1 + 0.01 * np.minimum(floor, 5))
        * (1 + 0.15 * (built > 2010))
        * np.exp(-0.03 * distance)
        + 60 * rooms
        + rng.normal(0, 70, n)
    )
    price = np.round(price, 0)
    price[rng.random(n) < 0.04] = np.nan
    values = (
        np.arange(1, n + 1),
        np.array(districts)[district],
        area,
        rooms,
        floor,
        built,
        balcony,
        distance,
        price,
    )
    return pd.DataFrame(dict(zip(COLUMNS, values, strict=True)))


def setup(ws: Workspace, folder: Path) -> Planted:
    """The raw export as a CSV file in the lab's folder (not registered: that is the task)."""
    frame = rentals(ROWS, 21)
    path = folder / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    priced = int(frame[LABEL].notna().sum())
    return Planted(facts={"rows": ROWS, "priced": priced}, files=[FILE])


def check(ws: Workspace, facts: dict[str, Any]) -> list[Check]:
    """The raw and cleaned versions, the runs, their metric and lineage, the varied parameter."""
    from pmle.errors import NotFound

    rows, priced = int(facts.get("rows", ROWS)), int(facts.get("priced", 0))
    try:
        versions = ws.datasets.versions(DATASET)
    except NotFound:
        versions = []
    clean = [v for v in versions if _is_clean(ws, v, priced)]
    return [
        _raw_check(versions, rows),
        _clean_check(versions, clean, priced),
        *_run_checks(ws, [v.ref for v in clean]),
    ]


def _raw_check(versions: list[Any], rows: int) -> Check:
    name = f"the export registered as dataset {DATASET} (all {rows:,} rows)"
    raw = [v for v in versions if v.num_rows == rows]
    if raw:
        return ok(name, f"{raw[0].ref} holds {raw[0].num_rows:,} rows")
    if not versions:
        return fail(name, f"no dataset {DATASET} yet; run pmle data import {DATASET} {FILE}")
    found = ", ".join(f"{v.ref}: {v.num_rows:,}" for v in versions)
    return fail(name, f"no version holds all {rows:,} rows ({found}); import {FILE} as it is")


def _clean_check(versions: list[Any], clean: list[Any], priced: int) -> Check:
    name = f"a cleaned version: the {priced:,} rows with a {LABEL}"
    if clean:
        return ok(name, ", ".join(v.ref for v in clean))
    if not versions:
        return fail(name, "needs the dataset first")
    return fail(
        name,
        f"no version of {DATASET} holds exactly the {priced:,} rows whose {LABEL} is not "
        f"missing (with every column); make one with pmle data import {DATASET} --sql …",
    )


def _is_clean(ws: Workspace, version: Any, priced: int) -> bool:
    if version.num_rows != priced or not set(COLUMNS) <= {c.name for c in version.columns}:
        return False
    return bool(ws.datasets.to_arrow(version).column(LABEL).null_count == 0)


def _run_checks(ws: Workspace, clean: list[str]) -> list[Check]:
    from pmle.errors import NotFound

    runs_name = (
        f"≥ {MIN_RUNS} finished runs in {EXPERIMENT} logging {METRIC} and reading "
        "the cleaned version"
    )
    param_name = f"one parameter with ≥ {MIN_RUNS} values across those runs"
    try:
        listed = ws.tracking.runs(EXPERIMENT, max_results=None)
    except NotFound:
        return [
            fail(
                runs_name,
                f"no experiment {EXPERIMENT} yet; start runs in it "
                f'(pmle.start_run("{EXPERIMENT}", …))',
            ),
            fail(param_name, "needs the runs first"),
        ]
    finished = [ws.tracking.run(r.id) for r in listed if r.status == "FINISHED"]
    good = [r for r in finished if METRIC in r.metrics and set(clean) & set(r.inputs)]
    if len(good) >= MIN_RUNS:
        checks = [ok(runs_name, f"{len(good)} runs: {', '.join(r.name for r in good)}")]
    else:
        checks = [fail(runs_name, _runs_missing(finished, good, clean))]
    varied = _varied(good)
    if varied and len(good) >= MIN_RUNS:
        key, values = varied
        checks.append(ok(param_name, f"{key}: {', '.join(sorted(values, key=_order))}"))
    elif good:
        seen = {
            k: len({r.params[k] for r in good if k in r.params}) for r in good for k in r.params
        }
        detail = ", ".join(f"{k} ({n} value{'s' if n != 1 else ''})" for k, n in seen.items())
        checks.append(
            fail(
                param_name,
                f"parameters so far: {detail or 'none'}; log the "
                "hyperparameter you vary with run.log_param",
            )
        )
    else:
        checks.append(fail(param_name, "needs the runs first"))
    return checks


def _runs_missing(finished: list[RunInfo], good: list[RunInfo], clean: list[str]) -> str:
    if not finished:
        return f"{EXPERIMENT} has no finished run yet"
    no_metric = sum(1 for r in finished if METRIC not in r.metrics)
    no_input = sum(1 for r in finished if not set(clean) & set(r.inputs))
    parts = [f"{len(good)} of {len(finished)} finished run(s) qualify"]
    if no_metric:
        parts.append(f"{no_metric} log no {METRIC}")
    if no_input:
        wanted = " or ".join(clean) if clean else "the cleaned version (make it first)"
        parts.append(f"{no_input} did not record {wanted} as input (run.log_dataset)")
    return "; ".join(parts)


def _order(value: str) -> tuple[int, float, str]:
    """Numbers by value, before other text."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _varied(runs: list[RunInfo]) -> tuple[str, set[str]] | None:
    """The parameter with the most distinct values (at least MIN_RUNS) across `runs`."""
    values: dict[str, set[str]] = {}
    for r in runs:
        for key, value in r.params.items():
            values.setdefault(key, set()).add(value)
    best = max(values.items(), key=lambda kv: len(kv[1]), default=None)
    return best if best is not None and len(best[1]) >= MIN_RUNS else None
