"""Vertex AI `:explain`: predictions with per-feature attributions.

`POST /v1/projects/{p}/locations/{l}/endpoints/{e}:explain` takes Vertex AI's ExplainRequest —
`instances`, optional `deployedModelId` (overriding the traffic split) and optional
`explanationSpecOverride.parameters` with `sampledShapleyAttribution.pathCount`, `topK` or
`outputIndices` — and answers `{"explanations": [{"attributions": [...]}], "predictions":
[...], "deployedModelId"}`. Each attribution carries `baselineOutputValue`,
`instanceOutputValue`, `featureAttributions` (column → value), `outputIndex` and
`outputDisplayName` (classifiers), `outputName` and, for sampled Shapley, `approximationError`.

By default a model is explained with exact TreeSHAP where it allows it (`outputName` `logit` or
`value`: attributions in the score space), else with sampled Shapley (`scores` / `value`), for
the predicted class. `parameters.treeShapAttribution: {}` asks for TreeSHAP explicitly (a pmle
extension). The attributions are computed on a worker thread: the server keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.monitoring.attributions import Attributions
    from pmle.server.app import PmleApp, Request

_UNSUPPORTED = ("integratedGradientsAttribution", "xraiAttribution", "examples")


def _int(value: Any, what: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InvalidInput(f"{what} must be an integer, got {value!r}")
    if int(value) < low:
        raise InvalidInput(f"{what} must be at least {low}, got {value!r}")
    return int(value)


def parse_override(body: Mapping[str, Any]) -> dict[str, Any]:
    """Method, path count and the outputs asked for, from `explanationSpecOverride`."""
    from pmle.monitoring.attributions import DEFAULT_PATH_COUNT

    options: dict[str, Any] = {
        "method": "auto",
        "path_count": DEFAULT_PATH_COUNT,
        "top_k": None,
        "indices": None,
    }
    override = body.get("explanationSpecOverride")
    if override is None:
        return options
    if not isinstance(override, Mapping):
        raise InvalidInput("'explanationSpecOverride' must be an object")
    params = override.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise InvalidInput("'explanationSpecOverride.parameters' must be an object")
    unsupported = [k for k in _UNSUPPORTED if k in params]
    if unsupported:
        raise InvalidInput(
            f"{unsupported[0]} is not supported",
            hint="pmle explains tabular models with sampledShapleyAttribution (or "
            "treeShapAttribution, exact for tree models)",
        )
    if "sampledShapleyAttribution" in params:
        shapley = params["sampledShapleyAttribution"] or {}
        if not isinstance(shapley, Mapping):
            raise InvalidInput("'sampledShapleyAttribution' must be an object")
        options["method"] = "sampled_shapley"
        if shapley.get("pathCount") is not None:
            options["path_count"] = _int(shapley["pathCount"], "pathCount", 1)
    elif "treeShapAttribution" in params:
        options["method"] = "tree_shap"
    if params.get("topK") is not None:
        options["top_k"] = _int(params["topK"], "topK", 1)
    indices = params.get("outputIndices")
    if indices is not None:
        if not isinstance(indices, list) or not indices:
            raise InvalidInput("'outputIndices' must be a non-empty list of integers")
        options["indices"] = [_int(i, "an output index", 0) for i in indices]
    return options


def attributions_json(found: Attributions, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`explanations` of the response: per instance, the attributions of the outputs asked
    for (the given indices, the top k by output value, or the predicted class)."""
    import numpy as np

    outputs = found.values.shape[1]
    indices = options.get("indices")
    if indices is not None:
        for i in indices:
            found.check_output(i)
    out = []
    for row in range(found.n):
        if found.labels is None:
            chosen: list[int | None] = [None]
        elif indices is not None:
            chosen = list(indices)
        elif options.get("top_k"):
            order = np.argsort(-found.instance_output[row], kind="stable")
            chosen = [int(i) for i in order[: min(options["top_k"], outputs)]]
        else:
            chosen = [None]
        out.append({"attributions": [found.explain(row, k).to_vertex() for k in chosen]})
    return out


async def vertex_explain(
    app: PmleApp, req: Request, endpoint: str
) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
    """Explain instances with the deployed model the split (or `deployedModelId`) picks."""
    import pandas as pd

    from pmle.server.protocols import instances_of, vertex_predictions

    if app.require_token:
        app._authorize(req)
    body = req.json()
    instances = instances_of(body)
    options = parse_override(body)
    chosen = body.get("deployedModelId")
    if chosen is not None and not isinstance(chosen, str):
        raise InvalidInput("'deployedModelId' must be a string")
    live = app.state.endpoint(endpoint)
    dep = live.get(chosen) if chosen else live.pick(app.state.rng)
    cols = dep.model.columns_from_instances(instances)  # the checks :predict makes
    frame = pd.DataFrame(cols.data, columns=dep.model.input_names)
    pred = await dep.batcher.predict(cols)
    work = functools.partial(
        app.ws.explanations.attribute,
        dep.info.model,
        frame,
        method=options["method"],
        path_count=options["path_count"],
    )
    found = await asyncio.get_running_loop().run_in_executor(None, work)
    headers = [
        (b"x-vertex-ai-endpoint-id", endpoint.encode()),
        (b"x-vertex-ai-deployed-model-id", dep.info.id.encode()),
    ]
    return (
        200,
        {
            "explanations": attributions_json(found, options),
            "predictions": vertex_predictions(dep.model, pred),
            "deployedModelId": dep.info.id,
        },
        headers,
    )
