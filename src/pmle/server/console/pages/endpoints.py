"""The console's endpoints pages: endpoints with their traffic split, one endpoint's deployed
models with their counters and charts, and the actions on it (traffic split, deploying another
model version, undeploying, request logging)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pmle.errors import InvalidInput
from pmle.server.console.pages.models import percent, refresh_server
from pmle.server.console.paging import linked
from pmle.server.console.router import Ctx, Reply, action, is_id, page, redirect

if TYPE_CHECKING:
    from pmle.serving.endpoints import EndpointInfo

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
#: the time windows of the charts drawn from the request log: hours → bucket seconds
WINDOWS = {1: 60, 6: 300, 24: 900, 168: 3600}


def _href(name: str) -> str:
    return f"/endpoints/{quote(name)}"


@page("/endpoints")
def endpoints_list(c: Ctx) -> Reply:
    endpoints = c.ws.endpoints.list()
    pg = linked(c, len(endpoints))
    return c.render("endpoints.html", endpoints=endpoints[pg["start"] : pg["end"]], pg=pg)


@page(f"/endpoints/{NAME}")
def endpoint_detail(c: Ctx, name: str) -> Reply:
    from pmle.serving.endpoints import DEFAULT_MAX_BATCH_SIZE

    info = c.ws.endpoints.get(name)
    hours = c.int_arg("hours", 6, lo=1, hi=168)
    if hours not in WINDOWS:
        hours = 6
    series = _series(c, info, hours)
    return c.render(
        "endpoints_detail.html",
        info=info,
        deployed=[_row(d) for d in info.deployed_models],
        split_total=sum(d.traffic_percent for d in info.deployed_models),
        models=[m.name for m in c.ws.models.list()],
        charts=_charts(info),
        series=series,
        hours=hours,
        windows=list(WINDOWS),
        default_batch=DEFAULT_MAX_BATCH_SIZE,
        href=_href,
    )


# -- actions ---------------------------------------------------------------------------------


@action(f"/endpoints/{NAME}/split")
def set_split(c: Ctx, name: str) -> Reply:
    info = c.ws.endpoints.get(name)
    split = {
        d.id: percent(c.field(f"split_{d.id}", "0"), f"the traffic percent of {d.model} ({d.id})")
        for d in info.deployed_models
    }
    info = c.ws.endpoints.set_traffic_split(name, split)  # InvalidInput unless it sums to 100
    refresh_server(c)
    shown = ", ".join(f"{d.model} {d.traffic_percent}%" for d in info.deployed_models)
    return redirect(_href(name), f"Traffic split of {name}: {shown}.")


@action(f"/endpoints/{NAME}/deploy")
def deploy(c: Ctx, name: str) -> Reply:
    model = c.field("model").strip()
    version = c.field("version").strip() or "default"
    if not model:
        raise InvalidInput("choose the model to deploy")
    share = percent(c.field("traffic", "100"), "the traffic percent")
    try:
        batch = int(c.field("max_batch_size", "0").strip() or 0)
    except ValueError:
        raise InvalidInput("the max batch size must be a whole number")
    kwargs: dict[str, Any] = {"max_batch_size": batch} if batch else {}
    deployed = c.ws.endpoints.deploy(
        name,
        f"{model}@{version}",
        traffic_percent=share,
        compile=c.field("compile") == "on",
        **kwargs,
    )
    refresh_server(c)
    return redirect(
        _href(name),
        f"Deployed {deployed.model} as deployed model {deployed.id} with "
        f"{deployed.traffic_percent}% of the traffic.",
    )


@action(f"/endpoints/{NAME}/undeploy")
def undeploy(c: Ctx, name: str) -> Reply:
    dm_id = c.field("deployed_model_id").strip()
    if not is_id(dm_id):
        raise InvalidInput("choose the deployed model to undeploy")
    model = c.ws.endpoints.get(name).deployed(dm_id).model
    c.ws.endpoints.undeploy(name, dm_id)
    refresh_server(c)
    return redirect(_href(name), f"Undeployed {model} (deployed model {dm_id}) from {name}.")


@action(f"/endpoints/{NAME}/logging")
def set_logging(c: Ctx, name: str) -> Reply:
    share = percent(c.field("log_percent", "0"), "the share of requests logged")
    info = c.ws.endpoints.update(name, log_sampling=share / 100)
    refresh_server(c)
    return redirect(_href(name), f"{name} now logs {info.log_sampling:.0%} of its requests.")


# -- helpers ---------------------------------------------------------------------------------


def _row(d: Any) -> dict[str, Any]:
    stats = d.to_dict()["stats"]
    return {"d": d, **stats}


def _bucket_labels() -> list[str]:
    from pmle.serving.endpoints import LATENCY_BUCKETS_MS

    return [f"≤ {b:g} ms" for b in LATENCY_BUCKETS_MS] + [f"> {LATENCY_BUCKETS_MS[-1]:g} ms"]


def _charts(info: EndpointInfo) -> dict[str, Any]:
    """Specs from the counters every server adds to the deployed models: requests and errors
    per deployed model, and their latency histograms (the fixed buckets)."""
    from pmle.server.console import charts

    if not info.deployed_models:
        return {}
    counts = []
    latency = []
    labels = _bucket_labels()
    for d in info.deployed_models:
        who = f"{d.id}: {d.model}"
        counts.append({"deployed model": who, "kind": "requests", "count": d.request_count})
        counts.append({"deployed model": who, "kind": "errors", "count": d.error_count})
        for label, n in zip(labels, d.latency_buckets, strict=False):
            latency.append({"latency": label, "deployed model": who, "requests": n})
    out: dict[str, Any] = {
        "counts": charts.bars(
            "Requests and errors per deployed model",
            counts,
            "deployed model",
            "count",
            color="kind",
            offset=True,
        )
    }
    if latency:
        spec = charts.bars(
            "Request latency (all requests so far)",
            latency,
            "latency",
            "requests",
            color="deployed model",
            offset=True,
        )
        spec["encoding"]["x"]["sort"] = labels
        out["latency"] = spec
        out["buckets"] = labels
    return out


def _series(c: Ctx, info: EndpointInfo, hours: int) -> dict[str, Any]:
    """Request rate and latency over time, from the request–response log (the sampled
    requests the endpoint logged, with their times)."""
    from pmle._util import utcnow
    from pmle.server.console import charts
    from pmle.serving.request_log import traffic

    bucket = WINDOWS[hours]
    found = traffic(
        c.ws.prediction_log_dir, info.name, since=utcnow() - timedelta(hours=hours), bucket_s=bucket
    )
    rows = found.rows
    if not rows:
        return {}
    models = {d.id: f"{d.id}: {d.model}" for d in info.deployed_models}
    per_min = 60 / bucket
    rate, latency = [], []
    for r in rows:
        who = models.get(r["deployed_model_id"], f"{r['deployed_model_id']} (undeployed)")
        at = r["time"].isoformat()
        rate.append({"time": at, "deployed model": who, "requests/min": r["requests"] * per_min})
        latency.append({"time": at, "series": f"{who} p50", "ms": r["latency_p50_ms"]})
        latency.append({"time": at, "series": f"{who} p99", "ms": r["latency_p99_ms"]})
    return {
        "rows": rows,
        "found": found,
        "models": models,
        "bucket_s": bucket,
        "rate": charts.line(
            "Logged requests per minute",
            rate,
            "time",
            "requests/min",
            color="deployed model",
            x_type="temporal",
        ),
        "latency": charts.line(
            "Latency of logged requests (ms)",
            latency,
            "time",
            "ms",
            color="series",
            x_type="temporal",
        ),
    }
