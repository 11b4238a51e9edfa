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
extension).

The attributions and the response's JSON are computed on the app's own small pool of explain
threads (not the default pool, which refreshes the server's state and flushes its logs): the
server keeps serving predictions meanwhile. When `WORKERS` explanations run and `MAX_WAITING`
more wait, a further request is answered 503 at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.monitoring.attributions import Attributions
    from pmle.server.app import PmleApp, Request

_UNSUPPORTED = ("integratedGradientsAttribution", "xraiAttribution", "examples")
#: Explanations computed at once per server (each may use every core: LightGBM's TreeSHAP).
WORKERS = 2
#: Explanation requests waiting for a worker before further ones are answered 503.
MAX_WAITING = 4


class _Explainer:
    """An app's explain threads (started on first use) and its count of admitted requests
    (running, waiting or predicting first), which only the event loop's thread touches: a
    request counts until its work is done, even if the request gave up waiting for it."""

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        self.admitted = 0

    def admit(self) -> None:
        from pmle.server.app import HttpError

        if self.admitted >= WORKERS + MAX_WAITING:
            raise HttpError(
                503,
                f"the server is busy explaining: {self.admitted} explanation requests are "
                "running or waiting; retry shortly",
                [(b"retry-after", b"1")],
            )
        self.admitted += 1

    def release(self) -> None:
        self.admitted -= 1

    async def run(self, work: functools.partial[Any]) -> Any:
        """Run `work` (admitted first) on an explain thread; it stops counting when done."""
        loop = asyncio.get_running_loop()
        try:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="pmle-explain")
            future = self.pool.submit(work)
        except BaseException:
            self.release()
            raise

        def done(_: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing left to count
                loop.call_soon_threadsafe(self.release)

        future.add_done_callback(done)
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


_EXPLAINERS: weakref.WeakKeyDictionary[PmleApp, _Explainer] = weakref.WeakKeyDictionary()


def close(app: PmleApp) -> None:
    """Stop the app's explain threads (the app's shutdown calls this)."""
    explainer = _EXPLAINERS.pop(app, None)
    if explainer is not None:
        explainer.close()


def _int(value: Any, what: str, low: int) -> int:
    """An integral number (JSON may hold 3.0, NaN, Infinity or 1e400) of at least `low`."""
    integral = isinstance(value, int) or (
        isinstance(value, float) and math.isfinite(value) and value.is_integer()
    )
    if isinstance(value, bool) or not integral:
        raise InvalidInput(f"{what} must be an integer, got {value!r}")
    if int(value) < low:
        raise InvalidInput(f"{what} must be at least {low}, got {value!r}")
    return int(value)


def _object(params: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """`params[key]`: an object, or {} when null."""
    value = params[key]
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"'{key}' must be an object")
    return value


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
    params = override.get("parameters")
    params = {} if params is None else params
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
        shapley = _object(params, "sampledShapleyAttribution")
        options["method"] = "sampled_shapley"
        if shapley.get("pathCount") is not None:
            options["path_count"] = _int(shapley["pathCount"], "pathCount", 1)
    elif "treeShapAttribution" in params:
        _object(params, "treeShapAttribution")
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


def explain_json(
    app: PmleApp, model_ref: str, frame: Any, options: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The response's `explanations` (run on an explain thread: both parts are heavy)."""
    found = app.ws.explanations.attribute(
        model_ref, frame, method=options["method"], path_count=options["path_count"]
    )
    return attributions_json(found, options)


async def vertex_explain(
    app: PmleApp, req: Request, endpoint: str
) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
    """Explain instances with the deployed model the split (or `deployedModelId`) picks."""
    import pandas as pd

    from pmle.server.protocols import instances_of, vertex_predictions

    if app.require_token:
        app._authorize(req, act=False)
    body = req.json()
    instances = instances_of(body)
    options = parse_override(body)
    chosen = body.get("deployedModelId")
    if chosen is not None and not isinstance(chosen, str):
        raise InvalidInput("'deployedModelId' must be a string")
    live = app.state.endpoint(endpoint)
    dep = live.get(chosen) if chosen else live.pick(app.state.rng)
    if dep.lookup is not None:  # the features :predict would add
        instances = dep.lookup.enrich(instances)
    cols = dep.model.columns_from_instances(instances)  # the checks :predict makes
    frame = pd.DataFrame(cols.data, columns=dep.model.input_names)
    explainer = _EXPLAINERS.get(app)
    if explainer is None:
        explainer = _EXPLAINERS.setdefault(app, _Explainer())
    explainer.admit()
    try:
        pred = await dep.batcher.predict(cols)
    except BaseException:
        explainer.release()
        raise
    work = functools.partial(explain_json, app, dep.info.model, frame, options)
    explanations = await explainer.run(work)
    headers = [
        (b"x-vertex-ai-endpoint-id", endpoint.encode()),
        (b"x-vertex-ai-deployed-model-id", dep.info.id.encode()),
    ]
    return (
        200,
        {
            "explanations": explanations,
            "predictions": vertex_predictions(dep.model, pred),
            "deployedModelId": dep.info.id,
        },
        headers,
    )
