"""Lab `cached-pipeline` (section 5, objective 5.1): a Kubeflow Pipelines v2 pipeline of at
least two dependent tasks over a planted dataset, run twice with pmle so that the second run
takes tasks from the cache."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.exam.labs.base import Check, Lab, Planted, fail, ok

if TYPE_CHECKING:
    import pandas as pd

    from pmle.pipelines.run_records import PipelineRun
    from pmle.workspace import Workspace

DATASET = "orders"
ROWS = 1000

LAB = Lab(
    id="cached-pipeline",
    title="A nightly pipeline that reuses its work",
    section=5,
    objectives=("5.1",),
    summary="Build a KFP v2 pipeline of dependent tasks and rerun it from the cache.",
    task=f"""
## Scenario

Every night the data team validates the latest `{DATASET}` data (a dataset in this workspace)
and computes what training needs from it. Most nights nothing changed, and recomputing
unchanged steps wastes the night. Build the nightly job as a Kubeflow Pipelines v2 pipeline
(the `kfp` SDK's `dsl`), run it locally with pmle, and show that a rerun takes the unchanged
steps from the cache.

## What to build

1. `pipeline.py` in this folder: a KFP v2 pipeline of at least two tasks, one consuming an
   output of another (for example: validate the dataset → summarise or train on it).
2. The dataset as a pipeline parameter (e.g. `dataset: str = "{DATASET}"`): when the data gets
   a new version, the parameter changes, and so do the cache keys.
3. The pipeline run with pmle, then run again with the same parameters.

## Success criteria

- a succeeded run of at least two tasks, one consuming another's output;
- a pipeline parameter naming the `{DATASET}` dataset (`{DATASET}` or `{DATASET}@VERSION`);
- a later succeeded run of the same pipeline that took at least one task from the cache.
""",
    hints=(
        "A component is a Python function decorated with `@dsl.component`; a pipeline is a "
        "function decorated with `@dsl.pipeline(name=...)` that calls components and passes "
        "outputs on. pmle ships components: `from pmle.pipelines.components import "
        "validate_data` checks a dataset version and outputs its rows (a Parquet file) as "
        '`outputs["data"]`.',
        'A second task reading that output: `@dsl.component(base_image="python:3.11")` '
        "`def summarize(data: Input[Dataset], metrics: Output[Metrics]) -> int:` with `import "
        "pandas as pd` inside the body (kfp runs the body alone), `frame = "
        'pd.read_parquet(data.path)`, `metrics.log_metric("rows", len(frame))`, `return '
        'len(frame)`. The pipeline: `@dsl.pipeline(name="nightly-orders")` `def '
        f'nightly(dataset: str = "{DATASET}"):` `checked = validate_data(dataset=dataset)`; '
        '`summarize(data=checked.outputs["data"])`.',
        "Run it: `pmle pipelines run pipeline.py` (parameters with `-p dataset=orders@1`). "
        "Run the same command again; `--no-cache` would neither use nor fill the cache.",
        "`pmle pipelines list` shows the runs; `pmle pipelines show RUN` draws the DAG and "
        "marks the tasks that came from the cache.",
    ),
)


def orders(n: int, seed: int) -> pd.DataFrame:
    """`n` orders with whether they were returned."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    items = rng.integers(1, 12, n)
    value = np.round(items * rng.gamma(3.0, 12.0, n), 2)
    segment = rng.choice(["new", "regular", "vip"], n, p=[0.3, 0.55, 0.15])
    since = rng.integers(0, 365, n)
    p = 1 / (1 + np.exp(-(-2.5 + 0.12 * items - 0.6 * (segment == "vip") + 0.002 * since)))
    return pd.DataFrame(
        {
            "order_id": np.arange(1, n + 1),
            "items": items,
            "basket_value": value,
            "customer_segment": segment,
            "days_since_last_order": since,
            "returned": rng.random(n) < p,
        }
    )


def setup(ws: Workspace, folder: Path) -> Planted:
    """The orders dataset."""
    ws.datasets.import_(DATASET, orders(ROWS, 51), description="last night's orders")
    return Planted()


def _leaves(run: PipelineRun) -> list[dict[str, Any]]:
    return [t for t in run.tasks if not t.get("isGroup")]


def _parameters(run: PipelineRun) -> dict[str, Any]:
    """The run's pipeline parameters: those given, over the defaults of its compiled IR."""
    from pmle.errors import PmleError
    from pmle.pipelines.ir import load_pipeline
    from pmle.pipelines.run_records import SPEC_FILE

    defaults: dict[str, Any] = {}
    try:
        spec = load_pipeline(Path(run.root_dir) / SPEC_FILE)
    except (PmleError, OSError):
        spec = None
    if spec is not None:
        defaults = {k: p.default for k, p in spec.inputs.parameters.items() if p.has_default}
    return {**defaults, **run.params}


def _names_dataset(run: PipelineRun) -> bool:
    return any(
        isinstance(v, str) and (v == DATASET or v.startswith(f"{DATASET}@"))
        for v in _parameters(run).values()
    )


def check(ws: Workspace, facts: dict[str, Any]) -> list[Check]:
    """A succeeded run with a task dependency, the dataset parameter, and a cached rerun."""
    runs = sorted(ws.pipelines.list(), key=lambda r: r.id)
    done = [r for r in runs if r.succeeded]
    chained = [
        r for r in done if len(_leaves(r)) >= 2 and any(t.get("upstream") for t in _leaves(r))
    ]
    checks = []
    name = "a succeeded run of ≥ 2 tasks, one consuming another's output"
    if chained:
        r = chained[-1]
        checks.append(ok(name, f"run {r.id} of {r.name}: {len(_leaves(r))} tasks"))
    elif done:
        sizes = ", ".join(f"run {r.id} of {r.name}: {len(_leaves(r))} task(s)" for r in done)
        checks.append(fail(name, f"{sizes}; pass one task's output to another"))
    elif runs:
        checks.append(
            fail(name, f"{len(runs)} run(s), none succeeded; pmle pipelines show RUN tells why")
        )
    else:
        checks.append(
            fail(
                name,
                "no pipeline run yet; write pipeline.py and run pmle pipelines run pipeline.py",
            )
        )
    named = [r for r in chained if _names_dataset(r)]
    name = f"a pipeline parameter naming the {DATASET} dataset"
    if named:
        r = named[-1]
        checks.append(ok(name, f"run {r.id}: {_parameters(r)}"))
    elif chained:
        params = "; ".join(f"run {r.id}: {_parameters(r) or 'none'}" for r in chained[-3:])
        checks.append(
            fail(
                name,
                f"parameters of the runs: {params}; make the dataset a "
                f'pipeline input (dataset: str = "{DATASET}")',
            )
        )
    else:
        checks.append(fail(name, "needs a succeeded run of dependent tasks first"))
    name = "a later run of the same pipeline took tasks from the cache"
    first_ids = {r.name: r.id for r in reversed(named)}  # the earliest qualifying run of each
    cached = [
        r
        for r in done
        if r.name in first_ids
        and r.id > first_ids[r.name]
        and any(t.get("cacheHit") for t in _leaves(r))
    ]
    if cached:
        r = cached[-1]
        hits = sum(1 for t in _leaves(r) if t.get("cacheHit"))
        checks.append(ok(name, f"run {r.id}: {hits} of {len(_leaves(r))} task(s) from cache"))
    elif named:
        checks.append(
            fail(
                name,
                f"no later succeeded run of {named[-1].name} took a task from "
                "the cache; run the same command again, without --no-cache, "
                "with the same parameters",
            )
        )
    else:
        checks.append(fail(name, "needs the first run first"))
    return checks
