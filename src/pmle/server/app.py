"""The ASGI application: plain ASGI routing, orjson bodies, no per-request models.

Routes (see `GET /openapi.json`):

- Vertex AI: `POST /v1/projects/{p}/locations/{l}/endpoints/{e}:predict | :rawPredict |
  :explain` (feature attributions, see `explain_route`); management of endpoints
  under the same prefix (create, get, list, patch the split, deployModel, undeployModel, delete).
- KServe V1: `POST /v1/models/{endpoint}:predict`.
- Open Inference Protocol V2: `/v2`, `/v2/health/{live,ready}`, `/v2/models/{endpoint}
  [/versions/{deployed model id}][/ready | /infer]`.
- `/metrics` (Prometheus), `/health`, `/openapi.json`.
- The web console: every other path (`/`, `/models`, …, `/static/…`; see `server.console`).

Mutating routes need a bearer token (`pmle tokens create`); prediction needs one too when the
server runs with `require_token=True`. Bodies above `max_body_bytes` get 413.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput, PmleError

if TYPE_CHECKING:
    from pmle.server.state import LiveDeployment, ServerState
    from pmle.workspace import Workspace

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger("pmle.server")

#: Vertex AI's online prediction request limit.
DEFAULT_MAX_BODY = 1_572_864

_VERTEX = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/endpoints/([^/:]+):([A-Za-z]+)$")
_VERTEX_ONE = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/endpoints/([^/:]+)$")
_VERTEX_ALL = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/endpoints$")
_V1 = re.compile(r"^/v1/models/([^/:]+):([A-Za-z]+)$")
_V2_MODEL = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?$")

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


class HttpError(Exception):
    """An error answered with a status and a message."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class Raw:
    """A response body sent as it is, with its type and headers (the console's pages)."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: bytes = b"text/html; charset=utf-8",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers if headers is not None else []


class Request:
    """The parts of an HTTP request the handlers use."""

    __slots__ = ("body", "headers", "method", "path", "query", "scheme")

    def __init__(self, scope: Scope, body: bytes) -> None:
        self.method: str = scope["method"]
        self.scheme: str = scope.get("scheme", "http")
        self.path: str = scope["path"]
        self.query: bytes = scope.get("query_string", b"")
        self.headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
        self.body = body

    def json(self) -> Any:

        if not self.body:
            raise InvalidInput("the request body is empty", hint="send a JSON object")
        return parse_json(self.body)


def _client_id(req: Request) -> str | None:
    """The client's request id (X-Request-ID), if it sent a usable one."""
    value = req.headers.get(b"x-request-id")
    if not value or len(value) > 256:
        return None
    return value.decode("utf-8", errors="replace")


def _instances(dep: LiveDeployment, instances: list[Any]) -> tuple[Any, list[Any]]:
    """Columns for a deployment from Vertex / V1 instances, with its looked-up features
    added first; also the instances as predicted (what the request log keeps)."""
    given = dep.lookup.enrich(instances) if dep.lookup is not None else instances
    return dep.model.columns_from_instances(given), given


def parse_json(data: bytes) -> Any:
    """JSON, also with the NaN / Infinity some clients (numpy-based ones) write for missing
    values: strict orjson first, the standard library's lenient parser as the fallback."""
    import json

    import orjson

    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidInput(f"malformed JSON: {exc}")


def _json_bytes(data: Any) -> bytes:
    import orjson

    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


class PmleApp:
    """One ASGI app serving every endpoint of a workspace."""

    def __init__(
        self,
        ws: Workspace,
        *,
        require_token: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        poll_s: float = 1.0,
        run_monitors: bool = False,
    ) -> None:
        """`run_monitors`: also run the workspace's scheduled monitors and pipeline schedules
        when they are due."""
        from pmle.server.metrics import Metrics
        from pmle.server.state import ServerState
        from pmle.serving.request_log import RequestLogger

        self.ws = ws
        self.require_token = require_token
        self.max_body_bytes = max_body_bytes
        self.metrics = Metrics()
        self.state: ServerState = ServerState(
            ws,
            self.metrics,
            RequestLogger(ws.prediction_log_dir),
            poll_s=poll_s,
            run_monitors=run_monitors,
        )
        self._started = False
        self._start_lock: asyncio.Lock | None = None

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if not self._started:
            await self._ensure_started()
        vertex = scope["path"].startswith("/v1/projects/")
        try:
            body = await self._read_body(scope, receive)
            status, payload, headers = await self._dispatch(Request(scope, body))
        except HttpError as exc:
            status, payload, headers = (
                exc.status,
                self._error(exc.status, exc.message, vertex),
                exc.headers,
            )
        except PmleError as exc:
            status, payload, headers = exc.status, self._error(exc.status, str(exc), vertex), []
        except Exception as exc:  # never let one request take the server down
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            status = 500
            payload = self._error(500, f"internal error: {exc.__class__.__name__}: {exc}", vertex)
            headers = []
        await self._send(send, status, payload, headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._ensure_started()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.state.stop()
                from pmle.server.explain_route import close as close_explainer

                close_explainer(self)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _ensure_started(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                await self.state.start()
                self._started = True

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.max_body_bytes
        for key, value in scope.get("headers") or []:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise HttpError(400, "invalid Content-Length")
                if declared > limit:
                    raise HttpError(413, f"request body over {limit} bytes")
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body", b"")  # the whole body in one message (usual)
            if len(body) > limit:
                raise HttpError(413, f"request body over {limit} bytes")
            return body if type(body) is bytes else bytes(body)
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise HttpError(413, f"request body over {limit} bytes")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
            message = await receive()
        return b"".join(chunks)

    @staticmethod
    async def _send(
        send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]]
    ) -> None:
        if isinstance(payload, str):
            body, ctype = payload.encode(), b"text/plain; version=0.0.4; charset=utf-8"
        elif isinstance(payload, Raw):  # a console page or file
            body, ctype = payload.body, payload.content_type
            headers = [*headers, *payload.headers]
        else:
            body, ctype = _json_bytes(payload), b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _error(status: int, message: str, vertex: bool) -> dict[str, Any]:
        if vertex:
            return {
                "error": {
                    "code": status,
                    "message": message,
                    "status": _STATUS.get(status, "UNKNOWN"),
                }
            }
        return {"error": message}

    # -- routing ----------------------------------------------------------------------------

    async def _dispatch(self, req: Request) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        path, method = req.path, req.method
        static = _STATIC.get(path)
        if static is not None:
            allow(method, "GET")
            return await static(self, req)
        if m := _VERTEX.match(path):
            project, location, endpoint, verb = m.groups()
            allow(method, "POST")
            if verb in {"predict", "rawPredict"}:
                return await self._vertex_predict(
                    req, project, location, endpoint, verb == "rawPredict"
                )
            if verb == "explain":
                from pmle.server.explain_route import vertex_explain

                return await vertex_explain(self, req, endpoint)
            if verb in {"deployModel", "undeployModel"}:
                from pmle.server import management

                self._authorize(req)
                return await management.deploy(self, req, endpoint, verb)
            raise HttpError(404, f"unknown method :{verb}")
        if m := _VERTEX_ONE.match(path):
            from pmle.server import management

            return await management.one(self, req, m.group(3))
        if _VERTEX_ALL.match(path):
            from pmle.server import management

            return await management.all_endpoints(self, req)
        if m := _V1.match(path):
            endpoint, verb = m.groups()
            allow(method, "POST")
            if verb == "predict":
                return await self._v1_predict(req, endpoint)
            if verb == "explain":
                raise HttpError(
                    501, "explanations are served on the Vertex AI route (endpoints/{e}:explain)"
                )
            raise HttpError(404, f"unknown method :{verb}")
        if m := _V2_MODEL.match(path):
            endpoint, version, action = m.groups()
            if action == "/infer":
                allow(method, "POST")
                return await self._v2_infer(req, endpoint, version)
            allow(method, "GET")
            return self._v2_model(endpoint, version, action == "/ready")
        if not path.startswith(("/v1/", "/v2/")):
            from pmle.server.console import handle

            reply = await handle(self, req)
            if reply is not None:
                return reply.status, reply, []
        raise HttpError(404, f"no route for {path}")

    # -- auth -------------------------------------------------------------------------------

    def _authorize(self, req: Request, *, act: bool = True) -> None:
        """A bearer token that authenticates now; with `act`, one whose role may act
        (`editor`)."""
        header = req.headers.get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        challenge = [(b"www-authenticate", b'Bearer realm="pmle"')]
        if scheme.lower() != b"bearer" or not token:
            raise HttpError(401, "this route needs a bearer token (pmle tokens create)", challenge)
        role = self.state.token_roles.get(hashlib.sha256(token.strip()).hexdigest())
        if role is None:
            raise HttpError(401, "invalid or revoked token", challenge)
        if act and role != "editor":
            raise HttpError(403, "this token is a viewer's; acting needs an editor's token")

    # -- prediction -------------------------------------------------------------------------

    async def _predict(
        self, req: Request, endpoint: str, version: str | None, protocol: str, parse: Any
    ) -> tuple[LiveDeployment, Any, Any, int]:
        """Pick a deployment, parse with `parse(deployment)`, predict; counts and logs."""
        if self.require_token:
            self._authorize(req, act=False)
        t0 = time.perf_counter()
        live = self.state.endpoint(endpoint)
        dep = live.get(version) if version is not None else live.pick(self.state.rng)
        rows = 0
        status = 200
        try:
            cols, extra = parse(dep)
            rows = cols.n
            pred = await dep.batcher.predict(cols)
            return dep, pred, extra, rows
        except PmleError as exc:
            status = exc.status
            raise
        except Exception as exc:
            status = 500
            raise HttpError(500, f"the model failed: {exc.__class__.__name__}: {exc}")
        finally:
            self.metrics.request(
                endpoint=endpoint,
                deployed=dep.info.id,
                protocol=protocol,
                code=status,
                seconds=time.perf_counter() - t0,
                rows=rows,
            )

    def _sampled(self, dep: LiveDeployment) -> bool:
        """Whether to log this request (the endpoint's sampling rate)."""
        endpoint = self.state.endpoints.get(dep.info.endpoint)
        return endpoint is not None and self.state.logger.sampled(endpoint.info.log_sampling)

    def _log(
        self,
        dep: LiveDeployment,
        instances: list[Any],
        predictions: list[Any],
        t0: float,
        request_id: str | None = None,
    ) -> None:
        """Log a sampled request; its id is the client's (X-Request-ID, the V2 `id`) when
        given, so ground truth can be joined to it later."""
        if self._sampled(dep):
            self._record(dep, instances, predictions, t0, request_id)

    def _record(
        self,
        dep: LiveDeployment,
        instances: list[Any],
        predictions: list[Any],
        t0: float,
        request_id: str | None,
    ) -> None:
        """Log a request (sampled already)."""
        self.state.logger.add(
            endpoint=dep.info.endpoint,
            deployed_model_id=dep.info.id,
            model=dep.info.model,
            request_id=request_id or uuid.uuid4().hex,
            instances=instances,
            predictions=predictions,
            latency_ms=(time.perf_counter() - t0) * 1000.0,
        )

    async def _vertex_predict(
        self, req: Request, project: str, location: str, endpoint: str, raw: bool
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        from pmle.server.protocols import (
            instances_of,
            vertex_predictions,
            vertex_predictions_json,
        )

        t0 = time.perf_counter()
        body = req.json()
        if raw and isinstance(body, list):
            body = {"instances": body}
        instances = instances_of(body)
        dep, pred, given, _ = await self._predict(
            req, endpoint, None, "vertex", lambda d: _instances(d, instances)
        )
        predictions = vertex_predictions_json(dep.model, pred)
        if self._sampled(dep):  # the log keeps the predictions as objects
            self._record(dep, given, vertex_predictions(dep.model, pred), t0, _client_id(req))
        headers = [(b"x-vertex-ai-endpoint-id", endpoint.encode()), dep.id_header]
        if raw:
            return 200, {"predictions": predictions}, headers
        return (
            200,
            {
                "predictions": predictions,
                "deployedModelId": dep.info.id,
                "model": f"projects/{project}/locations/{location}/models/{dep.model_name}",
                "modelDisplayName": dep.model_name,
                "modelVersionId": dep.version_id,
            },
            headers,
        )

    async def _v1_predict(
        self, req: Request, endpoint: str
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        from pmle.server.protocols import instances_of, v1_predictions

        t0 = time.perf_counter()
        instances = instances_of(req.json())
        dep, pred, given, _ = await self._predict(
            req, endpoint, None, "v1", lambda d: _instances(d, instances)
        )
        predictions = v1_predictions(pred)
        self._log(dep, given, predictions, t0, _client_id(req))
        return 200, {"predictions": predictions}, []

    async def _v2_infer(
        self, req: Request, endpoint: str, version: str | None
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        from pmle.server.protocols import v2_columns, v2_outputs

        t0 = time.perf_counter()
        body, binary = self._v2_body(req)

        def parse(dep: LiveDeployment) -> tuple[Any, Any]:
            if dep.lookup is not None:
                raise InvalidInput(
                    "this deployment looks its features up in the feature store, which the "
                    "Vertex AI and KServe V1 routes do",
                    hint=f"POST instances with entity keys to /v1/models/{endpoint}:predict",
                )
            raw, n, wanted = v2_columns(body, dep.model, binary)
            return dep.model.columns_from_raw(raw, n), (raw, n, wanted)

        dep, pred, extra, _ = await self._predict(req, endpoint, version, "v2", parse)
        raw, n, wanted = extra
        outputs = v2_outputs(dep.model, pred, wanted)
        if self._sampled(dep):  # drawn once: `_record` logs without drawing again
            instances = [{c: raw[c][i] for c in dep.model.input_names} for i in range(n)]
            given = body.get("id") if isinstance(body.get("id"), str) else None
            self._record(dep, instances, outputs[0]["data"], t0, given)
        response: dict[str, Any] = {
            "model_name": endpoint,
            "model_version": dep.info.id,
            "id": body.get("id") if isinstance(body.get("id"), str) else uuid.uuid4().hex,
            "outputs": outputs,
        }
        return 200, response, []

    def _v2_body(self, req: Request) -> tuple[Mapping[str, Any], bytes]:

        header = req.headers.get(b"inference-header-content-length")
        if header is None:
            body = req.json()
            if not isinstance(body, Mapping):
                raise InvalidInput("a V2 inference request is a JSON object")
            return body, b""
        try:
            size = int(header)
        except ValueError:
            raise InvalidInput("invalid Inference-Header-Content-Length")
        if not 0 < size <= len(req.body):
            raise InvalidInput("Inference-Header-Content-Length exceeds the body")
        body = parse_json(req.body[:size])
        if not isinstance(body, Mapping):
            raise InvalidInput("a V2 inference request is a JSON object")
        return body, req.body[size:]

    def _v2_model(
        self, endpoint: str, version: str | None, ready: bool
    ) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        from pmle.server.protocols import v2_model_metadata

        live = self.state.endpoint(endpoint)
        dep = live.get(version) if version is not None else live.default()
        if ready:
            return 200, {"name": endpoint, "ready": True}, []
        versions = [version] if version is not None else sorted(live.deployments)
        return 200, v2_model_metadata(endpoint, versions, dep.model), []

    # -- static routes ----------------------------------------------------------------------

    async def _health(self, req: Request) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        return (200 if self.state.ready else 503), {"ready": self.state.ready}, []

    async def _live(self, req: Request) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        return 200, {"live": True}, []

    async def _server_metadata(self, req: Request) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        from pmle import __version__

        return (
            200,
            {"name": "pmle", "version": __version__, "extensions": ["binary_tensor_data"]},
            [],
        )

    async def _metrics(self, req: Request) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        return 200, self.metrics.exposition(), []

    async def _openapi(self, req: Request) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        from pmle.server.openapi import document

        return 200, document(), []


_STATIC: dict[
    str, Callable[[PmleApp, Request], Awaitable[tuple[int, Any, list[tuple[bytes, bytes]]]]]
] = {
    "/health": PmleApp._health,
    "/v2/health/ready": PmleApp._health,
    "/v2/health/live": PmleApp._live,
    "/v2": PmleApp._server_metadata,
    "/metrics": PmleApp._metrics,
    "/openapi.json": PmleApp._openapi,
}


def allow(method: str, *allowed: str) -> None:
    """405 unless the method is one of `allowed`."""
    if method not in allowed:
        raise HttpError(
            405, f"method {method} not allowed here", [(b"allow", ", ".join(allowed).encode())]
        )


def create_app(
    workspace: str | None = None,
    *,
    require_token: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    poll_s: float = 1.0,
    run_monitors: bool = False,
) -> PmleApp:
    """The ASGI app for a workspace (found like the CLI finds it when `workspace` is None)."""
    from pmle.workspace import open_workspace

    if max_body_bytes <= 0:
        raise InvalidInput("the body size limit must be positive")
    ws = open_workspace(workspace)
    ws.engine  # noqa: B018 - migrate now, not on the first request
    return PmleApp(
        ws,
        require_token=require_token,
        max_body_bytes=max_body_bytes,
        poll_s=poll_s,
        run_monitors=run_monitors,
    )


def app_from_env() -> PmleApp:
    """The app factory uvicorn's worker processes call (settings travel as PMLE_SERVE_*)."""
    import os

    return create_app(
        os.environ.get("PMLE_WORKSPACE"),
        require_token=os.environ.get("PMLE_SERVE_REQUIRE_TOKEN", "") == "1",
        max_body_bytes=int(os.environ.get("PMLE_SERVE_MAX_BODY", DEFAULT_MAX_BODY)),
        run_monitors=os.environ.get("PMLE_SERVE_MONITORS", "") == "1",
    )


__all__ = ["DEFAULT_MAX_BODY", "PmleApp", "app_from_env", "create_app"]
