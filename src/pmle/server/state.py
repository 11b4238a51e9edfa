"""What a server process holds: the loaded deployed models of every endpoint, the tokens,
and the background work (polling for deployment changes, flushing logs and counters).

Deployments change in the metadata store (from the CLI, the Python API or this server's
management routes); every server polls the endpoints' revisions once per `poll_s` and loads
or drops models to match, so a split change or a new deployment needs no restart. A model
folder is loaded once per server even when deployed on several endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pmle.errors import NotFound

if TYPE_CHECKING:
    from pmle.features.serving import FeatureLookup
    from pmle.server.metrics import Metrics
    from pmle.serving.batcher import Batcher
    from pmle.serving.endpoints import DeployedModel, EndpointInfo
    from pmle.serving.request_log import RequestLogger
    from pmle.serving.runtime import ServedModel
    from pmle.workspace import Workspace

log = logging.getLogger("pmle.server")
#: Seconds between checks for due monitors (servers started with run_monitors).
MONITOR_CHECK_S = 15.0


@dataclass
class LiveDeployment:
    """A deployed model loaded in this process."""

    info: DeployedModel
    model: ServedModel
    batcher: Batcher
    lookup: FeatureLookup | None = None  # features added from the online store

    # What every Vertex AI response names, spelled out once rather than per request.
    @cached_property
    def model_name(self) -> str:
        """The registered model's name."""
        return self.info.model_name

    @cached_property
    def version_id(self) -> str:
        """The registered version number, as Vertex AI's `modelVersionId` (a string)."""
        return str(self.info.model_version)

    @cached_property
    def id_header(self) -> tuple[bytes, bytes]:
        """The response header naming the deployed model."""
        return (b"x-vertex-ai-deployed-model-id", self.info.id.encode())


@dataclass
class LiveEndpoint:
    """An endpoint as this process serves it: deployments and the cumulative split."""

    info: EndpointInfo
    deployments: dict[str, LiveDeployment]
    _ids: list[str] = field(default_factory=list)
    _cumulative: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        acc = 0
        for dm_id, pct in self.info.traffic_split.items():
            if pct > 0 and dm_id in self.deployments:
                acc += pct
                self._ids.append(dm_id)
                self._cumulative.append(acc)

    def pick(self, rng: random.Random) -> LiveDeployment:
        """A deployment drawn by the traffic split."""
        if not self._ids:
            raise NotFound(
                f"endpoint {self.info.name!r} has no model receiving traffic",
                hint="deploy a model: pmle endpoints deploy",
            )
        i = bisect_right(self._cumulative, rng.random() * self._cumulative[-1])
        return self.deployments[self._ids[min(i, len(self._ids) - 1)]]

    def get(self, deployed_model_id: str) -> LiveDeployment:
        """A deployment by id (KServe `versions/{v}`)."""
        found = self.deployments.get(deployed_model_id)
        if found is None:
            raise NotFound(
                f"endpoint {self.info.name!r} has no deployed model {deployed_model_id!r}",
                hint=f"versions: {', '.join(self.deployments) or 'none'}",
            )
        return found

    def default(self) -> LiveDeployment:
        """The deployment with the largest traffic share (whose metadata V2 shows)."""
        if not self.deployments:
            raise NotFound(f"endpoint {self.info.name!r} has no deployed model")
        split = self.info.traffic_split
        best = max(self.deployments, key=lambda d: (split.get(d, 0), d))
        return self.deployments[best]


class ServerState:
    """Endpoints, models and tokens of one server process."""

    def __init__(
        self,
        ws: Workspace,
        metrics: Metrics,
        logger: RequestLogger,
        *,
        poll_s: float = 1.0,
        run_monitors: bool = False,
    ) -> None:
        self.ws = ws
        self.run_monitors = run_monitors
        self.metrics = metrics
        self.logger = logger
        self.poll_s = poll_s
        self.endpoints: dict[str, LiveEndpoint] = {}
        self.token_hashes: frozenset[str] = frozenset()
        self.token_roles: dict[str, str] = {}  # hash → editor | viewer
        self.ready = False
        self.rng = random.Random()
        self._revisions: dict[str, int] = {}
        self._models: dict[str, ServedModel] = {}  # tree key (+compiled) → model
        self._batchers: dict[str, Batcher] = {}  # deployed model id → batcher
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._monitor_task: asyncio.Task[None] | None = None
        self._dropped: list[Batcher] = []

    def endpoint(self, name: str) -> LiveEndpoint:
        """A served endpoint; NotFound otherwise."""
        found = self.endpoints.get(name)
        if found is None:
            raise NotFound(f"no endpoint named {name!r}", hint="see `pmle endpoints list`")
        return found

    # -- syncing with the metadata store ----------------------------------------------------

    def refresh(self, force: bool = False) -> bool:
        """Load what changed since the last call; whether anything did. Blocking."""
        with self._lock:
            self.token_roles = self.ws.tokens.active_roles()
            self.token_hashes = frozenset(self.token_roles)
            revisions = self.ws.endpoints.revisions()
            if revisions == self._revisions and not force:
                return False
            endpoints: dict[str, LiveEndpoint] = {}
            keep_models: dict[str, ServedModel] = {}
            keep_batchers: dict[str, Batcher] = {}
            for name in revisions:
                try:
                    info = self.ws.endpoints.get(name)
                except NotFound:
                    continue  # deleted meanwhile
                live: dict[str, LiveDeployment] = {}
                for d in info.deployed_models:
                    key = f"{d.tree_key}+compiled" if d.compile else d.tree_key
                    try:
                        model = keep_models.get(key) or self._models.get(key) or self._load(d)
                    except Exception as exc:
                        log.error("cannot load %s on endpoint %s: %s", d.model, name, exc)
                        continue
                    keep_models[key] = model
                    batcher = self._batcher_for(d, model)
                    keep_batchers[d.id] = batcher
                    try:
                        lookup = self._lookup_for(d)
                    except Exception as exc:
                        log.error("cannot look up features for %s on %s: %s", d.model, name, exc)
                        continue
                    live[d.id] = LiveDeployment(d, model, batcher, lookup)
                endpoints[name] = LiveEndpoint(info, live)
            dropped = [b for k, b in self._batchers.items() if k not in keep_batchers]
            self.endpoints = endpoints
            self._models = keep_models
            self._batchers = keep_batchers
            self._revisions = revisions
            self._dropped = dropped
            self.ready = True
            return True

    def _lookup_for(self, d: DeployedModel) -> FeatureLookup | None:
        if not d.features:
            return None
        from pmle.features.serving import FeatureLookup

        return FeatureLookup(self.ws.features, d.features)

    def _load(self, d: DeployedModel) -> ServedModel:
        from pmle.serving.runtime import load_served

        compile_dir = self.ws.state_dir / "cache" / "compiled" if d.compile else None
        return load_served(self.ws.artifacts.materialize_tree(d.tree_key), compile_dir)

    def _batcher_for(self, d: DeployedModel, model: ServedModel) -> Batcher:
        from pmle.serving.batcher import Batcher

        old = self._batchers.get(d.id)
        if (
            old is not None
            and old.max_batch_size == d.max_batch_size
            and old.max_wait_s == d.max_wait_ms / 1000.0
        ):
            return old
        batcher = Batcher(model.predict, max_batch_size=d.max_batch_size, max_wait_ms=d.max_wait_ms)
        endpoint, dm_id = d.endpoint, d.id
        batcher.on_batch = lambda reqs, rows: self.metrics.batch(
            endpoint=endpoint, deployed=dm_id, requests=reqs, rows=rows
        )
        return batcher

    # -- background work --------------------------------------------------------------------

    async def start(self) -> None:
        """Load everything, then poll in the background."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.refresh, True)
        _freeze()
        self._task = loop.create_task(self._poll())
        if self.run_monitors:
            self._monitor_task = loop.create_task(self._monitors())

    async def _monitors(self) -> None:
        """Run due monitors, then start due pipeline schedules' runs (in background threads),
        off the event loop; several servers never run one twice: each is claimed in the store
        first."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                for run in await loop.run_in_executor(None, self.ws.monitors.run_due):
                    log.info(
                        "monitor %s run %s: %s, %s rows, %s alert(s)",
                        run.monitor, run.id, run.state, run.rows, len(run.alerts),
                    )  # fmt: skip
            except Exception as exc:  # a broken monitor must not stop the server
                log.warning("scheduled monitors failed: %s", exc)
            try:
                for launch in await loop.run_in_executor(None, self.ws.pipeline_schedules.tick):
                    log.info(
                        "pipeline schedule %s: starting a run (%s)", launch.schedule, launch.trigger
                    )
            except Exception as exc:  # nor a broken pipeline schedule
                log.warning("pipeline schedules failed: %s", exc)
            await asyncio.sleep(MONITOR_CHECK_S)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_s)
            try:  # logs first: monitors expect rows readable within seconds of their time
                if self.logger.due():
                    await loop.run_in_executor(None, self.logger.flush)
            except Exception as exc:
                log.warning("writing the request log failed: %s", exc)
            try:
                changed = await loop.run_in_executor(None, self.refresh)
                if changed:
                    for b in self._dropped:
                        await b.close()
                    self._dropped = []
                    _freeze()
                # Counters are taken on the loop thread, which is the only one updating them.
                pending = self.metrics.take_pending()
                await loop.run_in_executor(None, self.flush, pending)
            except Exception as exc:  # the store may be briefly busy; keep serving
                log.warning("background sync failed: %s", exc)

    def flush(self, pending: dict[str, dict[str, Any]]) -> None:
        """Write due request logs and add counters to the metadata store."""
        if self.logger.due():
            self.logger.flush()
        if pending:
            self.ws.endpoints.add_stats(pending)

    async def stop(self) -> None:
        """Stop polling, flush what is buffered, stop the batchers."""
        for task in (self._task, self._monitor_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            self.logger.flush()
            pending = self.metrics.take_pending()
            if pending:
                self.ws.endpoints.add_stats(pending)
        except Exception as exc:
            log.warning("final flush failed: %s", exc)
        for b in self._batchers.values():
            await b.close()

    def deployments_info(self) -> dict[str, Any]:
        """A summary for the server metadata route."""
        return {name: sorted(e.deployments) for name, e in self.endpoints.items()}


def _freeze() -> None:
    """Move everything alive now (libraries, loaded models) out of the garbage collector's
    sight: they live as long as the server, and full collections scanning them paused requests
    for tens of milliseconds (the p99 of the serving benchmark)."""
    import gc

    gc.collect()
    gc.freeze()
