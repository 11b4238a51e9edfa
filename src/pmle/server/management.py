"""The endpoint management routes: create, list, describe, patch (split, description, logging),
delete, deployModel, undeployModel. Each is a thin call into `ws.endpoints` run off the event
loop, followed by a refresh so this server serves the change at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.server.app import allow

if TYPE_CHECKING:
    from pmle.server.app import PmleApp, Request

Response = tuple[int, Any, list[tuple[bytes, bytes]]]


async def _blocking(app: PmleApp, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a metadata-store call off the event loop, then pick up the change."""
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, lambda: fn(*args, **kwargs))
    await loop.run_in_executor(None, app.state.refresh)
    return result


async def all_endpoints(app: PmleApp, req: Request) -> Response:
    """`GET` lists endpoints; `POST` creates one (token needed)."""
    if req.method == "GET":
        items = await asyncio.get_running_loop().run_in_executor(None, app.ws.endpoints.list)
        return 200, {"endpoints": [e.to_dict() for e in items]}, []
    allow(req.method, "GET", "POST")
    app._authorize(req)
    body = _object(req.json())
    name = body.get("name") or body.get("displayName")
    if not isinstance(name, str):
        raise InvalidInput("'name' is required", hint='send {"name": "churn"}')
    description = body.get("description", "")
    if not isinstance(description, str):
        raise InvalidInput("'description' must be a string")
    info = await _blocking(
        app,
        app.ws.endpoints.create,
        name,
        description=description,
        log_sampling=_sampling(body),
    )
    return 200, info.to_dict(), []


async def one(app: PmleApp, req: Request, name: str) -> Response:
    """`GET` describes an endpoint; `PATCH` changes it, `DELETE` removes it (token needed)."""
    loop = asyncio.get_running_loop()
    if req.method == "GET":
        info = await loop.run_in_executor(None, app.ws.endpoints.get, name)
        return 200, info.to_dict(), []
    allow(req.method, "GET", "PATCH", "DELETE")
    app._authorize(req)
    if req.method == "DELETE":
        force = b"force=true" in req.query
        await _blocking(app, app.ws.endpoints.delete, name, force=force)
        return 200, {}, []
    body = _object(req.json())
    split = body.get("trafficSplit")
    if split is not None:
        if not isinstance(split, Mapping):
            raise InvalidInput("'trafficSplit' must be an object of id → percent")
        await _blocking(app, app.ws.endpoints.set_traffic_split, name, dict(split))
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidInput("'description' must be a string")
    rate = _sampling(body) if "requestResponseLogging" in body else None
    info = await _blocking(
        app, app.ws.endpoints.update, name, description=description, log_sampling=rate
    )
    return 200, info.to_dict(), []


async def deploy(app: PmleApp, req: Request, name: str, verb: str) -> Response:
    """`:deployModel` / `:undeployModel` (token needed)."""
    body = _object(req.json())
    if verb == "undeployModel":
        dm_id = body.get("deployedModelId")
        if not isinstance(dm_id, str | int) or isinstance(dm_id, bool) or not str(dm_id).isdigit():
            raise InvalidInput("'deployedModelId' is required")
        await _blocking(app, app.ws.endpoints.undeploy, name, str(dm_id))
        return 200, {}, []
    spec = _object(body.get("deployedModel"), "'deployedModel'")
    model = spec.get("model")
    if not isinstance(model, str):
        raise InvalidInput("'deployedModel.model' is required", hint='e.g. "churn@champion"')
    split = body.get("trafficSplit")
    if split is not None and not isinstance(split, Mapping):
        raise InvalidInput("'trafficSplit' must be an object of id → percent")
    kwargs: dict[str, Any] = {}
    for key, arg in (("maxBatchSize", "max_batch_size"), ("maxWaitMs", "max_wait_ms")):
        if key in spec:
            kwargs[arg] = spec[key]
    if "compile" in spec:
        if not isinstance(spec["compile"], bool):
            raise InvalidInput("'deployedModel.compile' must be true or false")
        kwargs["compile"] = spec["compile"]
    deployed = await _blocking(
        app,
        app.ws.endpoints.deploy,
        name,
        model,
        traffic_percent=body.get("trafficPercent"),
        traffic_split=dict(split) if split is not None else None,
        **kwargs,
    )
    return 200, {"deployedModel": deployed.to_dict()}, []


def _object(value: Any, what: str = "the request body") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def _sampling(body: Mapping[str, Any]) -> float:
    logging_ = body.get("requestResponseLogging")
    if logging_ is None:
        return 0.0
    rate = _object(logging_, "'requestResponseLogging'").get("samplingRate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise InvalidInput("'requestResponseLogging.samplingRate' must be a number in [0, 1]")
    return float(rate)
