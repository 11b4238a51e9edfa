"""The console's feature store pages: entities, feature views and how fresh their online
values are; one view's definition, versions and materializations, and materializing it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.server.console.paging import bounds
from pmle.server.console.router import Ctx, Reply, action, is_id, page, redirect

if TYPE_CHECKING:
    from pmle.features.materialize import Freshness, MaterializationRun

VIEW = r"(?P<view>[^/]+)"


def _last_materialized(runs: list[MaterializationRun]) -> dict[tuple[str, int], Any]:
    """Per (view, version): when its newest successful materialization ended."""
    out: dict[tuple[str, int], Any] = {}
    for r in runs:  # newest first
        if r.state == "SUCCEEDED" and (r.view, r.version) not in out:
            out[(r.view, r.version)] = r.ended_at
    return out


def _freshness_rows(c: Ctx, fresh: list[Freshness]) -> list[dict[str, Any]]:
    from pmle.features.materialize import runs

    last = _last_materialized(runs(c.ws.features))
    now = time.time()
    out = []
    for f in fresh:
        ended = last.get((f.view, f.version))
        out.append(
            {
                "view": f.view,
                "version": f.version,
                "latest_event": f.latest_event,
                "materialized_until": f.materialized_until,
                "last_materialized": ended,
                "age_s": None if ended is None else max(0.0, now - ended.timestamp()),
                "lag_s": f.lag_s,
                "online_entities": f.online_entities,
            }
        )
    return out


@page("/features")
def features(c: Ctx) -> Reply:
    store = c.ws.features
    views = store.views()
    pager = bounds(len(views), c.int_arg("page", 1, lo=1))
    shown = views[pager["start"] : pager["stop"]]
    return c.render(
        "features.html",
        entities=store.entities(),
        views=shown,
        pager=pager,
        freshness=_freshness_rows(c, store.freshness([vv.name for vv in shown])),
    )


@page(f"/features/{VIEW}")
def feature_view(c: Ctx, view: str) -> Reply:
    from pmle.features.materialize import runs

    store = c.ws.features
    wanted = c.arg("version")
    if wanted and not is_id(wanted):
        raise InvalidInput(f"bad version {wanted!r}", hint="write ?version=3")
    vv = store.view(view, int(wanted) if wanted else None)
    versions = list(reversed(store.versions(vv.name)))
    current = versions[0].version if versions else vv.version
    materializations = runs(store, vv.name)
    pager = bounds(len(materializations), c.int_arg("page", 1, lo=1))
    fresh = store.freshness([vv.name])
    entities = {e.name: e for e in store.entities()}
    return c.render(
        "features_detail.html",
        vv=vv,
        spec=vv.view.to_dict(),
        current=current,
        versions=versions,
        join_keys={e: entities[e].join_keys if e in entities else () for e in vv.view.entities},
        materializations=materializations[pager["start"] : pager["stop"]],
        pager=pager,
        freshness=_freshness_rows(c, fresh)[0] if fresh else None,
    )


@action(f"/features/{VIEW}/materialize")
def materialize(c: Ctx, view: str) -> Reply:
    """Copy the view's newest values per entity into the online store (incremental: only
    the events since the last successful run)."""
    store = c.ws.features
    vv = store.view(view)
    incremental = c.field("incremental") == "1"
    (run,) = store.materialize([vv.name], incremental=incremental)
    notice = (
        f"Materialized {vv.name}@{vv.version}: {run.rows:,} entities written ({run.state.lower()})."
    )
    return redirect(f"/features/{vv.name}", notice)
