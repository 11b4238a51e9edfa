"""The console's models pages: the registry's models, one model's versions with its card and
lineage, and the actions on them (aliases, deploying a version to an endpoint)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pmle.errors import InvalidInput, NotFound
from pmle.server.console.links import execution_href
from pmle.server.console.paging import linked
from pmle.server.console.router import Ctx, Reply, action, is_id, page, redirect

if TYPE_CHECKING:
    from markupsafe import Markup

    from pmle.models.registry import ModelVersion
    from pmle.serving.endpoints import EndpointInfo
    from pmle.workspace import Workspace

NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)"
#: lineage execution states → the CSS state classes of the graph
_STATES = {"COMPLETE": "succeeded", "FAILED": "failed", "RUNNING": "running", "CACHED": "cached"}
#: the most boxes a lineage graph draws (the nearest ones are kept)
MAX_NODES = 60


def percent(text: str, what: str) -> int:
    """A traffic share from a form field: a whole number 0..100."""
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number 0..100, got {text.strip()!r}")
    if not 0 <= value <= 100:
        raise InvalidInput(f"{what} must be 0..100, got {value}")
    return value


def refresh_server(c: Ctx) -> None:
    """Make this server serve an endpoint change at once (others pick it up within a poll)."""
    c.app.state.refresh()


def model_href(name: str, version: int | None = None) -> str:
    return f"/models/{quote(name)}" + (f"?version={version}" if version is not None else "")


# -- pages -----------------------------------------------------------------------------------


@page("/models")
def models_list(c: Ctx) -> Reply:
    models = c.ws.models.list()
    pg = linked(c, len(models))
    shown = models[pg["start"] : pg["end"]]
    latest = c.ws.models.latest_versions([m.name for m in shown])
    return c.render("models.html", models=shown, latest=latest, pg=pg)


@page(f"/models/{NAME}")
def model_detail(c: Ctx, name: str) -> Reply:
    ws = c.ws
    versions = ws.models.versions(name)  # NotFound (404) for an unknown model
    if not versions:
        raise NotFound(f"model {name!r} has no versions")
    by_number = {v.version: v for v in versions}
    wanted = c.arg("version")
    if wanted:
        mv = ws.models.get(f"{name}@{wanted}")  # a number or an alias
    else:
        mv = next((v for v in versions if "default" in v.aliases), versions[-1])
    newest_first = list(reversed(versions))
    pg = linked(c, len(newest_first))
    endpoints = ws.endpoints.list()
    serving = [
        (e, d) for e in endpoints for d in e.deployed_models if d.model_name == name
    ]  # every deployment of any version of this model
    files = ws.artifacts.read_tree(mv.tree_key)
    metric_names = list(dict.fromkeys(k for v in versions for k in _metrics(v)))[:6]
    return c.render(
        "models_detail.html",
        name=name,
        mv=mv,
        manifest=mv.manifest,
        versions=newest_first[pg["start"] : pg["end"]],
        version_count=len(by_number),
        metric_names=metric_names,
        metrics=_metrics,
        pg=pg,
        inputs=(mv.manifest.get("signature") or {}).get("inputs", []),
        outputs=(mv.manifest.get("signature") or {}).get("outputs", []),
        training=(mv.manifest.get("lineage") or {}).get("inputs", []),
        fairness=ws.fairness.for_card(mv.ref),
        automl_card="model_card.md" in files,
        lineage=_lineage_svg(ws, mv, endpoints),
        serving=serving,
        endpoints=[e.name for e in endpoints],
        model_href=model_href,
    )


@page(rf"/models/{NAME}/versions/(?P<version>\d{{1,18}})/card")
def model_card(c: Ctx, name: str, version: str) -> Reply:
    """The AutoML model card of a version, with its fairness section (`pmle automl card`)."""
    from pmle.automl.card import to_html

    return Reply(200, to_html(c.ws.fairness.model_card(f"{name}@{version}")).encode())


# -- actions ---------------------------------------------------------------------------------


@action(f"/models/{NAME}/alias")
def set_alias(c: Ctx, name: str) -> Reply:
    alias = c.field("alias").strip()
    version = c.field("version").strip()
    if not alias:
        raise InvalidInput("give the alias to set")
    mv = c.ws.models.set_alias(f"{name}@{version}", alias)
    return redirect(model_href(name, mv.version), f"Alias {alias} now points at {mv.ref}.")


@action(f"/models/{NAME}/alias/delete")
def delete_alias(c: Ctx, name: str) -> Reply:
    alias = c.field("alias").strip()
    c.ws.models.delete_alias(name, alias)
    back = c.field("version").strip()
    return redirect(
        model_href(name, int(back) if is_id(back) else None),
        f"Alias {alias} deleted from model {name}.",
    )


@action(f"/models/{NAME}/deploy")
def deploy_version(c: Ctx, name: str) -> Reply:
    ws = c.ws
    mv = ws.models.get(f"{name}@{c.field('version').strip()}")
    new = c.field("new_endpoint").strip()
    target = new or c.field("endpoint").strip()
    if not target:
        raise InvalidInput("choose an endpoint or name a new one")
    if new:
        # The first model on an endpoint takes all of its traffic.
        ws.endpoints.create(new)
        share = 100
    else:
        share = percent(c.field("traffic", "100"), "the traffic percent")
    deployed = ws.endpoints.deploy(target, mv.ref, traffic_percent=share)
    refresh_server(c)
    return redirect(
        f"/endpoints/{quote(target)}",
        f"Deployed {mv.ref} on endpoint {target} as deployed model {deployed.id} "
        f"with {deployed.traffic_percent}% of the traffic.",
    )


# -- helpers ---------------------------------------------------------------------------------


def _metrics(mv: ModelVersion) -> dict[str, Any]:
    found = mv.manifest.get("metrics") or {}
    return found if isinstance(found, dict) else {}


def _artifact_href(uri: str | None) -> str | None:
    """A console page for an artifact of the lineage graph, when there is one."""
    if not uri or not uri.startswith("pmle://"):
        return None
    parts = uri[len("pmle://") :].split("/")
    if len(parts) == 4 and parts[2] == "versions" and is_id(parts[3]):
        if parts[0] == "datasets":
            return f"/datasets/{quote(parts[1])}?version={parts[3]}"
        if parts[0] == "models":
            return model_href(parts[1], int(parts[3]))
    return None


def _lineage_svg(ws: Workspace, mv: ModelVersion, endpoints: list[EndpointInfo]) -> Markup:
    """Where the version came from (datasets, runs, pipeline tasks, three steps up), what was
    made from it (one step down) and the endpoints serving it, as an SVG graph."""
    from pmle.server.console.dag import Node, svg

    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str]] = []
    me = f"a{mv.lineage_artifact_id}" if mv.lineage_artifact_id is not None else "model"
    if mv.lineage_artifact_id is not None:
        up = ws.lineage.upstream(mv.lineage_artifact_id, max_depth=3)
        down = ws.lineage.downstream(mv.lineage_artifact_id, max_depth=1)
        for graph in (up, down):
            for a in graph.artifacts.values():
                if len(nodes) >= MAX_NODES:
                    break
                label = a.name or a.type
                if a.type == "Model" and a.name and "@" in a.name:
                    label = a.name
                nodes.setdefault(
                    f"a{a.id}",
                    Node(
                        f"a{a.id}",
                        label,
                        a.type + (" (deleted)" if a.properties.get("deleted_at") else ""),
                        "current" if a.id == mv.lineage_artifact_id else "",
                        _artifact_href(a.uri),
                    ),
                )
            for x in graph.executions.values():
                if len(nodes) >= MAX_NODES:
                    break
                nodes.setdefault(
                    f"x{x.id}",
                    Node(
                        f"x{x.id}",
                        x.type,
                        x.name or "",
                        _STATES.get(x.state, ""),
                        execution_href(x.type, x.name, x.properties),
                    ),
                )
            for ev in graph.events:
                art, ex = f"a{ev.artifact_id}", f"x{ev.execution_id}"
                edge = (art, ex) if ev.type == "INPUT" else (ex, art)
                if art in nodes and ex in nodes and edge not in edges:
                    edges.append(edge)
    else:
        nodes[me] = Node(me, mv.ref, "Model", "current")
    for e in endpoints:
        for d in e.deployed_models:
            if d.model == mv.ref:
                key = f"e{e.name}"
                nodes[key] = Node(
                    key,
                    f"endpoint {e.name}",
                    f"deployed model {d.id}: {d.traffic_percent}%",
                    "running" if d.traffic_percent else "",
                    f"/endpoints/{quote(e.name)}",
                )
                edges.append((me, key))
    return svg(list(nodes.values()), edges, label=f"Lineage of {mv.ref}")
