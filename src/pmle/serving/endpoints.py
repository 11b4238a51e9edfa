"""Endpoints: named prediction addresses with models deployed behind a traffic split.

As in Vertex AI, an endpoint holds deployed models, each one registered model version
(resolved from a version number or an alias *when deploying*, then pinned), and a traffic
split: deployed model id → percent, summing to 100 while anything is deployed. A/B tests
and canary rollouts are a split change, picked up by running servers without a restart
(every change bumps the endpoint's `revision`, which servers poll).

Servers add their request counters to the deployed model rows, so `describe` shows counts,
errors and latency gathered by every server process of the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle._util import check_name, utcnow
from pmle.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from pmle.workspace import Workspace

DEFAULT_MAX_BATCH_SIZE = 64
DEFAULT_MAX_WAIT_MS = 2.0
#: Latency histogram bucket upper bounds (ms) kept per deployed model.
LATENCY_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


@dataclass(frozen=True)
class DeployedModel:
    """One model version deployed on an endpoint."""

    id: str
    endpoint: str
    model: str  # NAME@VERSION
    tree_key: str
    traffic_percent: int
    max_batch_size: int
    max_wait_ms: float
    compile: bool = False
    features: tuple[str, ...] = ()  # looked up in the feature store's online store
    request_count: int = 0
    error_count: int = 0
    row_count: int = 0
    latency_ms_sum: float = 0.0
    latency_buckets: tuple[int, ...] = ()
    created_at: datetime | None = None

    @property
    def model_name(self) -> str:
        """The registered model's name."""
        return self.model.split("@", 1)[0]

    @property
    def model_version(self) -> int:
        """The registered version number."""
        return int(self.model.split("@", 1)[1])

    @property
    def batching(self) -> bool:
        """Whether concurrent requests are coalesced (max batch size above one row)."""
        return self.max_batch_size > 1

    def latency_quantile(self, q: float) -> float | None:
        """An upper bound of the q-quantile latency (ms) from the bucket counts."""
        total = sum(self.latency_buckets)
        if not total:
            return None
        seen = 0
        for bound, count in zip(
            (*LATENCY_BUCKETS_MS, float("inf")), self.latency_buckets, strict=False
        ):
            seen += count
            if seen >= q * total:
                return float(bound)
        return float("inf")

    def to_dict(self) -> dict[str, Any]:
        """JSON form (Vertex-like field names where Vertex has them)."""
        mean = self.latency_ms_sum / self.request_count if self.request_count else None
        return {
            "id": self.id,
            "model": self.model,
            "trafficPercent": self.traffic_percent,
            "maxBatchSize": self.max_batch_size,
            "maxWaitMs": self.max_wait_ms,
            "compile": self.compile,
            "features": list(self.features),
            "stats": {
                "requests": self.request_count,
                "errors": self.error_count,
                "rows": self.row_count,
                "latencyMsMean": None if mean is None else round(mean, 3),
                "latencyMsP50": self.latency_quantile(0.5),
                "latencyMsP99": self.latency_quantile(0.99),
            },
            "createTime": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True)
class EndpointInfo:
    """An endpoint with its deployed models and traffic split."""

    name: str
    description: str
    log_sampling: float
    revision: int
    created_at: datetime
    updated_at: datetime
    deployed_models: tuple[DeployedModel, ...] = field(default=())

    @property
    def traffic_split(self) -> dict[str, int]:
        """Deployed model id → percent."""
        return {d.id: d.traffic_percent for d in self.deployed_models}

    def deployed(self, deployed_model_id: str) -> DeployedModel:
        """The deployed model with this id; NotFound otherwise."""
        for d in self.deployed_models:
            if d.id == str(deployed_model_id):
                return d
        raise NotFound(
            f"endpoint {self.name!r} has no deployed model {deployed_model_id!r}",
            hint=f"deployed: {', '.join(d.id for d in self.deployed_models) or 'none'}",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "description": self.description,
            "requestResponseLogging": {"samplingRate": self.log_sampling},
            "deployedModels": [d.to_dict() for d in self.deployed_models],
            "trafficSplit": self.traffic_split,
            "revision": self.revision,
            "createTime": self.created_at.isoformat(),
            "updateTime": self.updated_at.isoformat(),
        }


def check_split(split: Mapping[str, Any], deployed_ids: set[str]) -> dict[str, int]:
    """A traffic split checked against the deployed ids: integers 0..100 summing to 100."""
    if not isinstance(split, Mapping):
        raise InvalidInput("a traffic split is a mapping of deployed model id → percent")
    out: dict[str, int] = {}
    for key, value in split.items():
        if str(key) not in deployed_ids:
            raise NotFound(
                f"no deployed model {key!r} on this endpoint",
                hint=f"deployed: {', '.join(sorted(deployed_ids)) or 'none'}",
            )
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise InvalidInput(f"traffic percent for {key!r} must be an integer 0..100")
        out[str(key)] = value
    if deployed_ids and sum(out.values()) != 100:
        raise InvalidInput(
            f"traffic percentages sum to {sum(out.values())}, not 100",
            hint="give every deployed model a share so that the shares add up to 100",
        )
    return out


def _check_sampling(rate: float) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise InvalidInput(f"log sampling rate must be between 0 and 1, got {rate!r}")
    return float(rate)


def _check_batching(max_batch_size: int, max_wait_ms: float) -> None:
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int):
        raise InvalidInput("max batch size must be an integer")
    if not 1 <= max_batch_size <= 100_000:
        raise InvalidInput(f"max batch size must be 1..100000, got {max_batch_size}")
    if not isinstance(max_wait_ms, int | float) or not 0 <= max_wait_ms <= 1000:
        raise InvalidInput(f"max wait must be 0..1000 ms, got {max_wait_ms!r}")


class Endpoints:
    """The endpoints of one workspace (`ws.endpoints`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- endpoints --------------------------------------------------------------------------

    def create(
        self, name: str, *, description: str = "", log_sampling: float = 0.0
    ) -> EndpointInfo:
        """A new endpoint with nothing deployed; AlreadyExists if the name is taken."""
        import sqlalchemy as sa

        from pmle.errors import AlreadyExists
        from pmle.storage import schema as t

        check_name(name, "endpoint name")
        rate = _check_sampling(log_sampling)
        with self._ws.engine.begin() as conn:
            if conn.execute(sa.select(t.endpoints.c.id).where(t.endpoints.c.name == name)).first():
                raise AlreadyExists(f"endpoint {name!r} already exists")
            now = utcnow()
            conn.execute(
                t.endpoints.insert().values(
                    name=name,
                    description=description,
                    log_sampling=rate,
                    revision=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            return self._read(conn, name)

    def get(self, name: str) -> EndpointInfo:
        """An endpoint by name; NotFound when there is none."""
        with self._ws.engine.connect() as conn:
            return self._read(conn, name)

    def list(self) -> list[EndpointInfo]:
        """Every endpoint, by name."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            names = conn.execute(sa.select(t.endpoints.c.name).order_by(t.endpoints.c.name))
            return [self._read(conn, n) for n in names.scalars().all()]

    def revisions(self) -> dict[str, int]:
        """Endpoint name → revision: one cheap query servers poll for changes."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            rows = conn.execute(sa.select(t.endpoints.c.name, t.endpoints.c.revision)).all()
        return {r.name: r.revision for r in rows}

    def update(
        self, name: str, *, description: str | None = None, log_sampling: float | None = None
    ) -> EndpointInfo:
        """Change an endpoint's description or request-response logging rate."""
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if log_sampling is not None:
            values["log_sampling"] = _check_sampling(log_sampling)
        with self._ws.engine.begin() as conn:
            endpoint_id = self._endpoint_id(conn, name)
            self._touch(conn, endpoint_id, **values)
            return self._read(conn, name)

    def delete(self, name: str, *, force: bool = False) -> None:
        """Delete an endpoint; Conflict while models are deployed unless `force`."""
        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            info = self._read(conn, name)
            if info.deployed_models and not force:
                raise Conflict(
                    f"endpoint {name!r} still has {len(info.deployed_models)} deployed model(s)",
                    hint="undeploy them first, or delete with force",
                )
            endpoint_id = self._endpoint_id(conn, name)
            conn.execute(
                t.deployed_models.delete().where(t.deployed_models.c.endpoint_id == endpoint_id)
            )
            conn.execute(t.endpoints.delete().where(t.endpoints.c.id == endpoint_id))

    # -- deployments ------------------------------------------------------------------------

    def deploy(
        self,
        name: str,
        model: str,
        *,
        traffic_percent: int | None = None,
        traffic_split: Mapping[str, int] | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        max_wait_ms: float = DEFAULT_MAX_WAIT_MS,
        compile: bool = False,
        features: Sequence[str] = (),
    ) -> DeployedModel:
        """Deploy a model version (`NAME`, `NAME@3`, `NAME@alias`, resolved now) on an endpoint.

        With `traffic_percent` the new model gets that share and the others keep their
        proportions of the rest (Vertex's behaviour); `traffic_split` sets the whole split,
        using the key `"0"` for the new model. By default the new model gets 100 %.
        `compile` asks servers to compile LightGBM trees to machine code (lleaves, LLVM) for
        batches, falling back to the C API path where that is not possible.
        `features` (`view` or `view:feature`) are looked up in the feature store's online
        store by the entity keys each instance carries, and added to it before predicting.
        """

        from pmle.storage import schema as t

        _check_batching(max_batch_size, max_wait_ms)
        if traffic_percent is not None and traffic_split is not None:
            raise InvalidInput("give traffic_percent or traffic_split, not both")
        version = self._ws.models.get(model)
        wanted = list(features)
        if wanted:
            from pmle.features.serving import check_lookup

            check_lookup(self._ws.features, wanted, version)
        with self._ws.engine.begin() as conn:
            endpoint_id = self._endpoint_id(conn, name)
            current = self._read(conn, name)
            new_id = conn.execute(
                t.deployed_models.insert().values(
                    endpoint_id=endpoint_id,
                    model_name=version.name,
                    model_version=version.version,
                    tree_key=version.tree_key,
                    traffic_percent=0,
                    max_batch_size=max_batch_size,
                    max_wait_ms=float(max_wait_ms),
                    compile=bool(compile),
                    features=wanted or None,
                    request_count=0,
                    error_count=0,
                    row_count=0,
                    latency_ms_sum=0.0,
                    latency_buckets=[],
                    created_at=utcnow(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            new_key = str(new_id)
            ids = {d.id for d in current.deployed_models} | {new_key}
            if traffic_split is not None:
                given = {
                    (new_key if str(k) == "0" else str(k)): v for k, v in traffic_split.items()
                }
                split = check_split(given, ids)
            else:
                # As `gcloud ai endpoints deploy-model`: the new model takes all traffic unless
                # told otherwise.
                share = 100 if traffic_percent is None else traffic_percent
                if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
                    raise InvalidInput(f"traffic percent must be an integer 0..100, got {share!r}")
                split = _rescale(current.traffic_split, 100 - share)
                split[new_key] = share
                split = check_split(split, ids)
            self._write_split(conn, split)
            self._touch(conn, endpoint_id)
            return self._read(conn, name).deployed(new_key)

    def undeploy(self, name: str, deployed_model_id: str) -> None:
        """Remove a deployed model; the others keep their proportions of the whole."""
        from pmle.storage import schema as t

        with self._ws.engine.begin() as conn:
            endpoint_id = self._endpoint_id(conn, name)
            current = self._read(conn, name)
            current.deployed(deployed_model_id)  # NotFound if absent
            conn.execute(
                t.deployed_models.delete().where(t.deployed_models.c.id == int(deployed_model_id))
            )
            rest = {k: v for k, v in current.traffic_split.items() if k != str(deployed_model_id)}
            if rest:
                self._write_split(conn, _rescale(rest, 100))
            self._touch(conn, endpoint_id)

    def set_traffic_split(self, name: str, split: Mapping[str, int]) -> EndpointInfo:
        """Replace the whole traffic split (every deployed model id, percentages summing to 100);
        models left out get 0 %."""
        with self._ws.engine.begin() as conn:
            endpoint_id = self._endpoint_id(conn, name)
            current = self._read(conn, name)
            ids = {d.id for d in current.deployed_models}
            checked = check_split(split, ids)
            self._write_split(conn, {i: checked.get(i, 0) for i in ids})
            self._touch(conn, endpoint_id)
            return self._read(conn, name)

    def add_stats(self, deltas: Mapping[str, Mapping[str, Any]]) -> None:
        """Add a server's counter deltas: deployed model id → requests, errors, rows,
        latency_ms_sum, latency_buckets (counts per :data:`LATENCY_BUCKETS_MS` bound + inf)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        if not deltas:
            return
        c = t.deployed_models.c
        with self._ws.engine.begin() as conn:
            for dm_id, d in deltas.items():
                row = conn.execute(sa.select(c.latency_buckets).where(c.id == int(dm_id))).first()
                if row is None:
                    continue  # undeployed meanwhile
                old = list(row.latency_buckets or [])
                new = list(d.get("latency_buckets") or [])
                size = max(len(old), len(new))
                merged = [
                    (old[i] if i < len(old) else 0) + (new[i] if i < len(new) else 0)
                    for i in range(size)
                ]
                conn.execute(
                    t.deployed_models.update()
                    .where(c.id == int(dm_id))
                    .values(
                        request_count=c.request_count + int(d.get("requests", 0)),
                        error_count=c.error_count + int(d.get("errors", 0)),
                        row_count=c.row_count + int(d.get("rows", 0)),
                        latency_ms_sum=c.latency_ms_sum + float(d.get("latency_ms_sum", 0.0)),
                        latency_buckets=merged,
                    )
                )

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _endpoint_id(conn: Connection, name: str) -> int:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        check_name(name, "endpoint name")
        found = conn.execute(sa.select(t.endpoints.c.id).where(t.endpoints.c.name == name)).scalar()
        if found is None:
            raise NotFound(
                f"no endpoint named {name!r}", hint="create it with `pmle endpoints create`"
            )
        return int(found)

    @staticmethod
    def _touch(conn: Connection, endpoint_id: int, **values: Any) -> None:
        from pmle.storage import schema as t

        conn.execute(
            t.endpoints.update()
            .where(t.endpoints.c.id == endpoint_id)
            .values(revision=t.endpoints.c.revision + 1, updated_at=utcnow(), **values)
        )

    @staticmethod
    def _write_split(conn: Connection, split: Mapping[str, int]) -> None:
        from pmle.storage import schema as t

        for dm_id, pct in split.items():
            conn.execute(
                t.deployed_models.update()
                .where(t.deployed_models.c.id == int(dm_id))
                .values(traffic_percent=int(pct))
            )

    def _read(self, conn: Connection, name: str) -> EndpointInfo:
        import sqlalchemy as sa

        from pmle.storage import schema as t

        endpoint_id = self._endpoint_id(conn, name)
        e = conn.execute(sa.select(t.endpoints).where(t.endpoints.c.id == endpoint_id)).one()
        rows = conn.execute(
            sa.select(t.deployed_models)
            .where(t.deployed_models.c.endpoint_id == endpoint_id)
            .order_by(t.deployed_models.c.id)
        ).all()
        deployed = tuple(
            DeployedModel(
                id=str(r.id),
                endpoint=name,
                model=f"{r.model_name}@{r.model_version}",
                tree_key=r.tree_key,
                traffic_percent=r.traffic_percent,
                max_batch_size=r.max_batch_size,
                max_wait_ms=r.max_wait_ms,
                compile=bool(r.compile),
                features=tuple(r.features or ()),
                request_count=r.request_count,
                error_count=r.error_count,
                row_count=r.row_count,
                latency_ms_sum=r.latency_ms_sum,
                latency_buckets=tuple(r.latency_buckets or ()),
                created_at=r.created_at,
            )
            for r in rows
        )
        return EndpointInfo(
            name=e.name,
            description=e.description,
            log_sampling=e.log_sampling,
            revision=e.revision,
            created_at=e.created_at,
            updated_at=e.updated_at,
            deployed_models=deployed,
        )


def _rescale(split: Mapping[str, int], total: int) -> dict[str, int]:
    """Scale shares to add up to `total`, keeping their proportions (largest remainder)."""
    if not split:
        return {}
    current = sum(split.values())
    if current == 0:
        # Nothing had traffic: share evenly, the remainder to the first ones.
        keys = list(split)
        base, extra = divmod(total, len(keys))
        return {k: base + (1 if i < extra else 0) for i, k in enumerate(keys)}
    exact = {k: v * total / current for k, v in split.items()}
    out = {k: int(x) for k, x in exact.items()}
    left = total - sum(out.values())
    for k in sorted(exact, key=lambda k: exact[k] - out[k], reverse=True)[:left]:
        out[k] += 1
    return out
