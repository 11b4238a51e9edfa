"""The console's experiments pages: experiments; an experiment's runs a page at a time (their
parameters and latest metrics as columns, sorted by any of them, filtered with the search
syntax); runs side by side with their curves overlaid; one run's parameters, metric curves,
tags, notes, artifacts and lineage."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from pmle.errors import InvalidInput, NotFound
from pmle.server.console.pages.pipelines import whole_x
from pmle.server.console.paging import PER_PAGE, open_ended
from pmle.server.console.router import Ctx, Reply, is_id, page

if TYPE_CHECKING:
    from pmle.tracking.records import RunInfo

MAX_COMPARE = 10
MAX_CURVES = 24  # metric charts on one run's page
_ATTRIBUTES = {"name", "status", "started_at", "ended_at"}


def _quoted(key: str) -> str:
    """A metric or parameter key as the search syntax takes it."""
    return key if key.replace("_", "").replace("-", "").isalnum() else f"`{key}`"


def _order_by(sort: str, descending: bool) -> str | None:
    """The search ordering for a `sort` column (`metrics.KEY`, `params.KEY`, an attribute)."""
    if not sort:
        return None
    kind, dot, key = sort.partition(".")
    if dot and kind in {"metrics", "params"} and key:
        field = f"{kind}.{_quoted(key)}"
    elif sort in _ATTRIBUTES:
        field = sort
    else:
        raise InvalidInput(f"cannot sort by {sort!r}", hint="a metric, a parameter or an attribute")
    return f"{field} {'DESC' if descending else 'ASC'}"


@page("/experiments")
def experiments(c: Ctx) -> Reply:
    found = c.ws.tracking.experiments()
    number = c.int_arg("page", 1, lo=1)
    start = (number - 1) * PER_PAGE
    return c.render(
        "experiments.html",
        experiments=found[start : start + PER_PAGE],
        total=len(found),
        pager=open_ended(c, number, start + PER_PAGE < len(found)),
    )


@page(r"/experiments/runs/(?P<run_id>\d{1,18})")
def run_page(c: Ctx, run_id: str) -> Reply:
    from pmle.server.console import charts
    from pmle.server.console.dag import Node, svg

    tracking = c.ws.tracking
    info = tracking.run(int(run_id))
    curves: list[dict[str, Any]] = []
    steps: dict[str, int] = {}
    history = tracking.histories([info.id]).get(info.ref, {})  # one query for every curve
    for key in sorted(info.metrics):
        points = history.get(key, [])
        steps[key] = len(points)
        if len(points) > 1 and len(curves) < MAX_CURVES:
            rows = [{"step": p.step, "value": _finite(p.value)} for p in points]
            curves.append(whole_x(charts.line(key, rows, "step", "value", y_title=key)))
    children = tracking.runs(info.experiment, parent=info.id, max_results=PER_PAGE)
    read = [i for i in info.inputs if not i.startswith("→ ")]
    made = [i[2:] for i in info.inputs if i.startswith("→ ")]
    lineage = None
    if read or made:
        nodes = [Node(f"in-{n}", label, "input") for n, label in enumerate(read)]
        nodes.append(Node("run", info.name, info.status.lower(), info.status.lower()))
        nodes += [Node(f"out-{n}", label, "output") for n, label in enumerate(made)]
        edges = [(f"in-{n}", "run") for n in range(len(read))]
        edges += [("run", f"out-{n}") for n in range(len(made))]
        lineage = svg(nodes, edges, label=f"Lineage of run {info.ref}")
    return c.render(
        "experiments_run.html",
        run=info,
        curves=curves,
        steps=steps,
        children=children,
        read=read,
        made=made,
        lineage=lineage,
        links=_tag_links(info.tags),
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def _tag_links(tags: dict[str, str]) -> dict[str, str]:
    """Console pages that pmle's own tags point to."""
    links = {}
    model = tags.get("pmle.model")
    if model:
        links["pmle.model"] = f"/models/{model.partition('@')[0]}"
    job = tags.get("pmle.job_id")
    if job and is_id(job):
        links["pmle.job_id"] = f"/jobs/{job}"
    study = tags.get("pmle.study")
    if study:
        links["pmle.study"] = f"/jobs/studies/{study}"
    return links


@page(r"/experiments/(?P<name>[^/]+)")
def experiment(c: Ctx, name: str) -> Reply:
    tracking = c.ws.tracking
    info = tracking.experiment(name)
    number = c.int_arg("page", 1, lo=1)
    sort = c.arg("sort").strip()
    descending = c.arg("order", "desc").lower() != "asc"
    filter_text = c.arg("filter").strip()
    error = None
    total = 0
    runs: list[RunInfo] = []
    try:
        total, runs = tracking.runs_page(
            name,
            filter=filter_text or None,
            order_by=_order_by(sort, descending),
            offset=(number - 1) * PER_PAGE,
            limit=PER_PAGE,
        )
    except InvalidInput as exc:
        error = str(exc)
    params, metrics = tracking.keys(name)  # every column, so any one can be sorted on
    return c.render(
        "experiments_experiment.html",
        experiment=info,
        runs=runs,
        total=total,
        params=params,
        metrics=metrics,
        sort=sort,
        descending=descending,
        filter=filter_text,
        error=error,
        sort_url=lambda column: _sort_url(c, column, sort, descending),
        pager=open_ended(c, number, number * PER_PAGE < total),
    )


def _sort_url(c: Ctx, column: str, sort: str, descending: bool) -> str:
    """The link of a column header: sort by it (descending first; again: the other way)."""
    query = {k: v for k, v in c.query.items() if k not in {"page", "notice", "sort", "order"}}
    query["sort"] = column
    query["order"] = "asc" if column == sort and descending else "desc"
    return f"{c.path}?{urlencode(query)}"


def _compare_ids(c: Ctx) -> list[int]:
    """The run ids of `?runs=1,2,3` (or `?runs=1&runs=2`: the runs table's check boxes)."""
    values = parse_qs(c.req.query.decode("latin-1")).get("runs", [])
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not is_id(part):
                raise InvalidInput(f"runs are named by their ids, not {part!r}")
            if int(part) not in ids:
                ids.append(int(part))
    return ids


@page(r"/experiments/(?P<name>[^/]+)/compare")
def compare(c: Ctx, name: str) -> Reply:
    from pmle.server.console import charts

    tracking = c.ws.tracking
    info = tracking.experiment(name)
    ids = _compare_ids(c)
    if not ids:
        raise InvalidInput("pick the runs to compare", hint="tick them in the runs table")
    if len(ids) > MAX_COMPARE:
        raise InvalidInput(f"compare at most {MAX_COMPARE} runs at once, not {len(ids)}")
    runs: list[RunInfo] = []
    for run_id in ids:
        try:
            runs.append(tracking.run(run_id))
        except NotFound:
            continue
    if not runs:
        raise NotFound("none of those runs exists")
    params = sorted({k for r in runs for k in r.params})
    metrics = sorted({k for r in runs for k in r.metrics})
    differs = {k for k in params if len({r.params.get(k) for r in runs}) > 1}
    label = {r.ref: r.name if r.experiment == name else r.ref for r in runs}
    curves = []
    for key, by_run in sorted(tracking.curves([r.id for r in runs]).items()):
        rows = [
            {"step": p.step, "value": _finite(p.value), "run": label[ref]}
            for ref, points in by_run.items()
            for p in points
        ]
        curves.append(whole_x(charts.line(key, rows, "step", "value", color="run", y_title=key)))
    curved = {spec["title"] for spec in curves}
    single = [
        {"metric": k, "value": _finite(r.metrics[k]), "run": label[r.ref]}
        for k in metrics
        if k not in curved
        for r in runs
        if k in r.metrics
    ]
    latest = None
    if single:
        latest = charts.bars("latest values", single, "metric", "value", color="run", offset=True)
    return c.render(
        "experiments_compare.html",
        experiment=info,
        runs=runs,
        params=params,
        metrics=metrics,
        differs=differs,
        curves=curves,
        latest=latest,
        best=_best(runs, metrics),
    )


def _best(runs: list[RunInfo], metrics: list[str]) -> dict[str, tuple[float, float]]:
    """{metric: (lowest, highest)} of the runs' latest values, to mark them in the table."""
    out = {}
    for key in metrics:
        values = [
            r.metrics[key] for r in runs if key in r.metrics and _finite(r.metrics[key]) is not None
        ]
        if len(values) > 1:
            out[key] = (min(values), max(values))
    return out
