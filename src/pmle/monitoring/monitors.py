"""Monitors (`ws.monitors`): Vertex AI Model Monitoring over an endpoint's request log or over
any table or files, with baselines computed once and stored.

A monitor pins a model version. Its objectives:

- `skew`: each feature of the serving window against the model's training data (found through
  lineage), as stored histograms;
- `drift`: each feature of the window against the previous run's window;
- `attribution_skew` / `attribution_drift`: each feature's share of the mean absolute
  attribution over a sample of the window, against training / the previous window;
- performance, whenever labels have arrived (`labels`): the metrics of the newly labelled
  predictions against the model's training evaluation and a prior-only baseline model.

A run reads the window in DuckDB (memory bounded), records its result and the window's
histograms (the next drift baseline), records and delivers alerts, and writes a report.
"""

from __future__ import annotations

import builtins
import os
import shutil
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc, check_name, utcnow
from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.monitoring import run_records
from pmle.monitoring.drift import DEFAULT_THRESHOLD, METRICS, check_threshold, thresholds_for
from pmle.monitoring.performance import DEFAULT_PERFORMANCE_THRESHOLD, check_performance_threshold
from pmle.monitoring.records import (
    MonitorInfo,
    MonitorRun,
    info_of,
    iso,
    monitor_id,
    run_of,
)
from pmle.monitoring.schedule import DEFAULT_SCHEDULE, check_schedule, next_run
from pmle.monitoring.sinks import check_sink

if TYPE_CHECKING:
    import duckdb

    from pmle.models.registry import ModelVersion
    from pmle.workspace import Workspace

OBJECTIVES = ("skew", "drift", "attribution_skew", "attribution_drift")
DEFAULT_OBJECTIVES = ("skew", "drift")
#: Rows of a window (and of the training data) whose attributions are computed.
ATTRIBUTION_ROWS = 500


class Monitors:
    """The monitors of a workspace (`ws.monitors`)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    @property
    def directory(self) -> Path:
        """Labels and reports of monitors live under here."""
        return self._ws.state_dir / "monitoring"

    @property
    def labels_root(self) -> Path:
        """One folder of label files per monitor."""
        return self.directory / "labels"

    @property
    def reports_root(self) -> Path:
        """One folder of run reports per monitor."""
        return self.directory / "reports"

    # -- definition ---------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        endpoint: str | None = None,
        model: str | None = None,
        features: builtins.list[str] | None = None,
        objectives: builtins.list[str] | tuple[str, ...] | None = None,
        thresholds: Mapping[str, float] | None = None,
        default_threshold: float = DEFAULT_THRESHOLD,
        sampling_rate: float = 1.0,
        schedule: str | None = DEFAULT_SCHEDULE,
        sinks: builtins.list[Mapping[str, Any]] | None = None,
        id_field: str | None = None,
        performance_threshold: float = DEFAULT_PERFORMANCE_THRESHOLD,
        baseline: str | os.PathLike[str] | None = None,
        description: str = "",
    ) -> MonitorInfo:
        """A monitor on an endpoint (its request log) or on a model version (runs over data
        given to `run`). The baseline histograms are computed here, once, from the model's
        training dataset (lineage) or `baseline` (a dataset, table or files)."""
        import sqlalchemy as sa

        from pmle.models.signature import Signature
        from pmle.monitoring import sources
        from pmle.storage import schema as t

        check_name(name, "monitor name")
        mv = self._model_for(endpoint, model)
        signature = Signature.from_dict(mv.manifest["signature"])
        kinds = sources.feature_kinds(signature, features)
        chosen = _objectives(objectives)
        limits = thresholds_for(list(kinds), thresholds, default_threshold)
        rate = _sampling(sampling_rate)
        if endpoint is None and schedule not in (None, DEFAULT_SCHEDULE):
            raise InvalidInput(
                "a monitor without an endpoint checks the data given to each run, so it has "
                "no schedule",
                hint="run it with: pmle monitors run NAME --data TABLE|FILE",
            )
        cron = check_schedule(schedule) if schedule is not None and endpoint else None
        sink_specs = [check_sink(s) for s in sinks or []]
        if id_field is not None and not str(id_field).strip():
            raise InvalidInput("the id field must be a name")
        perf = check_performance_threshold(performance_threshold)
        with self._ws.engine.connect() as conn:
            if conn.execute(sa.select(t.monitors.c.id).where(t.monitors.c.name == name)).first():
                raise AlreadyExists(f"monitor {name!r} already exists")
        stored = self._baseline(mv, kinds, signature.input_names, baseline, chosen)
        config = {
            "objectives": chosen,
            "features": kinds,
            "thresholds": {f: limits[f] for f in dict(thresholds or {})},
            "default_threshold": check_threshold(default_threshold, "the default threshold"),
            "sampling_rate": rate,
            "sinks": sink_specs,
            "id_field": id_field,
            "performance_threshold": perf,
        }
        now = utcnow()
        with self._ws.engine.begin() as conn:
            if conn.execute(sa.select(t.monitors.c.id).where(t.monitors.c.name == name)).first():
                raise AlreadyExists(f"monitor {name!r} already exists")
            conn.execute(
                t.monitors.insert().values(
                    name=name,
                    description=description,
                    endpoint=endpoint,
                    model_name=mv.name,
                    model_version=mv.version,
                    config=config,
                    baseline=stored,
                    schedule=cron,
                    next_run_at=next_run(cron, now) if cron else None,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(name)

    def _model_for(self, endpoint: str | None, model: str | None) -> ModelVersion:
        if endpoint is None:
            if model is None:
                raise InvalidInput("a monitor needs an endpoint or a model", hint="--endpoint E")
            return self._ws.models.get(model)
        info = self._ws.endpoints.get(endpoint)
        if info.log_sampling <= 0:
            raise InvalidInput(
                f"endpoint {endpoint!r} does not log requests, so there is nothing to monitor",
                hint=f"turn logging on: pmle endpoints update {endpoint} --log-sampling 1.0",
            )
        if not info.deployed_models:
            raise InvalidInput(f"endpoint {endpoint!r} has no deployed model to monitor")
        if model is None:
            top = max(info.deployed_models, key=lambda d: d.traffic_percent)
            return self._ws.models.get(top.model)
        mv = self._ws.models.get(model)
        if mv.ref not in {d.model for d in info.deployed_models}:
            raise InvalidInput(
                f"{mv.ref} is not deployed on endpoint {endpoint!r}",
                hint=f"deployed: {', '.join(d.model for d in info.deployed_models)}",
            )
        return mv

    def _baseline(
        self,
        mv: ModelVersion,
        kinds: dict[str, str],
        input_names: builtins.list[str],
        given: str | os.PathLike[str] | None,
        objectives: builtins.list[str],
    ) -> dict[str, Any]:
        from pmle.monitoring import sources, sql_histograms

        data = given if given is not None else sources.training_dataset(mv)
        target = self._ws.models.load(mv.ref).target
        with self._ws.warehouse.connect(read_only=True) as con:
            relation, label = sources.data_relation(self._ws, data)
            sql_histograms.check_relation(con, relation, kinds)
            if not con.execute(f"SELECT count(*) FROM ({relation})").fetchall()[0][0]:
                raise InvalidInput(f"the baseline data {label} holds no rows")
            hists = sql_histograms.fit(con, relation, kinds)
            prior = _label_prior(con, relation, input_names, mv, target)
            shares = None
            if {"attribution_skew", "attribution_drift"} & set(objectives):
                frame = sources.frame_of(con, relation, input_names, ATTRIBUTION_ROWS)
                shares = self._attribution_shares(mv.ref, frame, kinds)
        return {
            "source": label,
            "histograms": sql_histograms.to_dicts(hists),
            "label_prior": prior,
            "attribution_shares": shares,
        }

    def _attribution_shares(self, model: str, frame: Any, kinds: Mapping[str, str]) -> dict:
        """Each monitored feature's share of the mean |attribution| (shares sum to 1)."""
        explanations = self._ws.explanations
        means = explanations.mean_abs_attributions(model, frame)
        total = sum(abs(float(means.get(f, 0.0))) for f in kinds)
        if total <= 0:
            return {f: 0.0 for f in kinds}
        return {f: abs(float(means.get(f, 0.0))) / total for f in kinds}

    def update(
        self,
        name: str,
        *,
        thresholds: Mapping[str, float] | None = None,
        clear_thresholds: builtins.list[str] | None = None,
        default_threshold: float | None = None,
        sampling_rate: float | None = None,
        schedule: str | None = None,
        clear_schedule: bool = False,
        sinks: builtins.list[Mapping[str, Any]] | None = None,
        performance_threshold: float | None = None,
        description: str | None = None,
    ) -> MonitorInfo:
        """Change thresholds (`clear_thresholds`: back to the default), sampling, schedule,
        sinks (the baseline stays)."""

        from pmle.storage import schema as t

        info = self.get(name)
        config = dict(info.config)
        default = config["default_threshold"]
        if default_threshold is not None:
            default = check_threshold(default_threshold, "the default threshold")
        merged = {**config["thresholds"], **dict(thresholds or {})}
        for feature in clear_thresholds or []:
            merged.pop(feature, None)
        limits = thresholds_for(list(info.features), merged, default)
        config["default_threshold"] = default
        config["thresholds"] = {f: limits[f] for f in merged}
        if sampling_rate is not None:
            config["sampling_rate"] = _sampling(sampling_rate)
        if sinks is not None:
            config["sinks"] = [check_sink(s) for s in sinks]
        if performance_threshold is not None:
            config["performance_threshold"] = check_performance_threshold(performance_threshold)
        values: dict[str, Any] = {"config": config, "updated_at": utcnow()}
        if clear_schedule:
            values.update(schedule=None, next_run_at=None)
        elif schedule is not None:
            cron = check_schedule(schedule)
            values.update(schedule=cron, next_run_at=next_run(cron, utcnow()))
        if description is not None:
            values["description"] = description
        with self._ws.engine.begin() as conn:
            conn.execute(t.monitors.update().where(t.monitors.c.name == name).values(**values))
        return self.get(name)

    def get(self, name: str) -> MonitorInfo:
        """A monitor by name; NotFound when there is none."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            row = conn.execute(sa.select(t.monitors).where(t.monitors.c.name == name)).first()
            if row is None:
                names = conn.execute(sa.select(t.monitors.c.name).order_by(t.monitors.c.name))
                known = [r[0] for r in names]
                raise NotFound(
                    f"no monitor {name!r}",
                    hint=f"monitors: {', '.join(known)}" if known else "create one first",
                )
        return info_of(row)

    def list(self) -> builtins.list[MonitorInfo]:
        """Every monitor, by name."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        with self._ws.engine.connect() as conn:
            rows = conn.execute(sa.select(t.monitors).order_by(t.monitors.c.name)).all()
        return [info_of(r) for r in rows]

    def delete(self, name: str) -> None:
        """Delete a monitor with its runs, alerts, labels and reports."""
        from pmle.storage import schema as t

        self.get(name)
        with self._ws.engine.begin() as conn:
            mid = monitor_id(conn, name)
            conn.execute(t.monitor_alerts.delete().where(t.monitor_alerts.c.monitor_id == mid))
            conn.execute(t.monitor_runs.delete().where(t.monitor_runs.c.monitor_id == mid))
            conn.execute(t.monitors.delete().where(t.monitors.c.id == mid))
        for folder in (self.labels_root / name, self.reports_root / name):
            shutil.rmtree(folder, ignore_errors=True)

    # -- labels -------------------------------------------------------------------------------

    def add_labels(
        self, name: str, data: Any, *, id_column: str = "id", label_column: str = "label"
    ) -> int:
        """Ground truth for logged predictions (a DataFrame or a CSV / Parquet / JSONL file
        with an id and a label column). Every id must name exactly one logged prediction of
        the monitored model; otherwise nothing is stored. Returns the number of labels."""
        from pmle.monitoring import performance

        info = self.get(name)
        if info.endpoint is None:
            raise InvalidInput(
                f"monitor {name!r} watches no endpoint, so there are no logged predictions to "
                "label",
                hint="labels are for endpoint monitors",
            )
        labels = performance.read_label_input(data, id_column, label_column)
        labels = labels.drop_duplicates("id", keep="last")
        mv = self._ws.models.get(info.model)
        performance.check_label_values(labels, str(mv.task), mv.manifest.get("classes"))
        logged = self._logged(info, start=None, end=None)
        with self._ws.warehouse.connect(read_only=True) as con:
            performance.check_label_ids(con, logged, labels)
        performance.write_labels(self.labels_root, name, labels)
        return len(labels)

    def _logged(self, info: MonitorInfo, *, start: datetime | None, end: datetime | None) -> str:
        from pmle.models.signature import Signature
        from pmle.monitoring import sources

        mv = self._ws.models.get(info.model)
        return sources.log_relation(
            str(info.endpoint),
            info.model,
            info.features,
            Signature.from_dict(mv.manifest["signature"]),
            start=start,
            end=end,
            id_field=info.config.get("id_field"),
        )

    # -- runs ---------------------------------------------------------------------------------

    def run(
        self,
        name: str,
        *,
        data: str | os.PathLike[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        report: bool = True,
        settle_s: float | None = None,
    ) -> MonitorRun:
        """Run the monitor now: over `data` when given, else over the endpoint's requests
        logged after the previous run's window (the monitor's creation at first; or `start`)
        up to `settle_s` seconds ago (or `end`) — servers write their logs a moment after
        answering, so the last seconds are left to the next run."""
        from pmle.monitoring.run_monitor import LOG_SETTLE_S, execute

        info = self.get(name)
        if data is None and info.endpoint is None:
            raise InvalidInput(
                f"monitor {name!r} watches no endpoint: give the data to check",
                hint=f"pmle monitors run {name} --data TABLE|FILE",
            )
        return execute(
            self,
            info,
            data=data,
            start=as_utc(start),
            end=as_utc(end),
            report=report,
            settle_s=LOG_SETTLE_S if settle_s is None else float(settle_s),
        )

    def runs(
        self, name: str, limit: int | None = None, offset: int = 0
    ) -> builtins.list[MonitorRun]:
        """The monitor's runs, newest first (`offset` newest ones skipped: pages)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        self.get(name)
        with self._ws.engine.connect() as conn:
            mid = monitor_id(conn, name)
            q = (
                sa.select(t.monitor_runs)
                .where(t.monitor_runs.c.monitor_id == mid)
                .order_by(t.monitor_runs.c.id.desc())
            )
            if limit is not None:
                q = q.limit(limit)
            if offset:
                q = q.offset(max(0, int(offset)))
            rows = conn.execute(q).all()
        return [run_of(name, r) for r in rows]

    def get_run(self, name: str, run_id: int) -> MonitorRun:
        """One run of the monitor."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        self.get(name)
        r = t.monitor_runs
        with self._ws.engine.connect() as conn:
            mid = monitor_id(conn, name)
            row = conn.execute(
                sa.select(r).where(r.c.id == int(run_id), r.c.monitor_id == mid)
            ).first()
        if row is None:
            raise NotFound(f"monitor {name!r} has no run {run_id}")
        return run_of(name, row)

    def alerts(
        self, name: str | None = None, limit: int | None = 100, offset: int = 0
    ) -> builtins.list[dict[str, Any]]:
        """Recorded alerts, newest first (of one monitor, or all; `offset` newest skipped)."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        a, m = t.monitor_alerts, t.monitors
        q = sa.select(a, m.c.name).join(m, m.c.id == a.c.monitor_id).order_by(a.c.id.desc())
        if name is not None:
            self.get(name)
            q = q.where(m.c.name == name)
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(max(0, int(offset)))
        with self._ws.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "monitor": r.name,
                "run_id": r.run_id,
                "objective": r.objective,
                "feature": r.feature,
                "metric": r.metric,
                "value": r.value,
                "threshold": r.threshold,
                "deliveries": r.deliveries,
                "at": iso(r.created_at),
            }
            for r in rows
        ]

    def summaries(self) -> builtins.list[dict[str, Any]]:
        """Every monitor, by name, with its newest run and its number of alerts, read in a
        few queries without the baselines or the runs' results (for listings)."""
        return run_records.summaries(self._ws)

    def run_due(self, now: datetime | None = None) -> builtins.list[MonitorRun]:
        """Run every scheduled monitor whose time has come. Each due run is claimed first (its
        next time moved on in one UPDATE), so several schedulers never run it twice. A failing
        monitor is recorded as a FAILED run and the others still run."""
        import sqlalchemy as sa

        from pmle.storage import schema as t

        now = as_utc(now) or utcnow()
        with self._ws.engine.connect() as conn:
            due = conn.execute(
                sa.select(
                    t.monitors.c.id,
                    t.monitors.c.name,
                    t.monitors.c.schedule,
                    t.monitors.c.next_run_at,
                )
                .where(t.monitors.c.next_run_at.is_not(None), t.monitors.c.next_run_at <= now)
                .order_by(t.monitors.c.next_run_at)
            ).all()
        out = []
        for mid, name, cron, at in due:
            with self._ws.engine.begin() as conn:
                claimed = conn.execute(
                    t.monitors.update()
                    .where(t.monitors.c.id == mid, t.monitors.c.next_run_at == at)
                    .values(next_run_at=next_run(cron, now))
                ).rowcount
            if claimed != 1:
                continue
            before = run_records.newest_run_id(self._ws, mid)
            try:
                out.append(self.run(name))
            except Exception:  # recorded as a FAILED run; the other monitors still run
                failed = run_records.newest_run_id(self._ws, mid)
                if failed is not None and failed != before:
                    out.append(self.get_run(name, failed))
        return out


# -- helpers ------------------------------------------------------------------------------------


def _objectives(given: Any) -> builtins.list[str]:
    if given is None:
        return list(DEFAULT_OBJECTIVES)
    chosen = list(dict.fromkeys(given))
    unknown = [o for o in chosen if o not in OBJECTIVES]
    if unknown or not chosen:
        raise InvalidInput(
            f"unknown objective(s) {', '.join(map(repr, unknown))}" if unknown else "no objective",
            hint=f"choose from {', '.join(OBJECTIVES)} (performance is monitored whenever "
            "labels arrive)",
        )
    return chosen


def _sampling(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise InvalidInput(f"the sampling rate must be in (0, 1], got {rate!r}")
    return float(rate)


def _label_prior(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    inputs: builtins.list[str],
    mv: ModelVersion,
    target: str | None,
) -> dict[str, Any] | None:
    """The training labels' class frequencies (or mean): the simple baseline model. The label
    is the model's recorded target, else the one column of the training data that is not a
    model input; None when neither is known."""
    from pmle.storage.warehouse import quote_ident

    cols = [d[0] for d in con.sql(f"SELECT * FROM ({relation}) LIMIT 0").description]
    rest = [target] if target in cols else [c for c in cols if c not in inputs]
    if len(rest) != 1:
        return None
    label = quote_ident(rest[0])
    if mv.task in {"binary", "multiclass"}:
        rows = con.execute(
            f"SELECT CAST({label} AS VARCHAR), count(*) FROM ({relation}) "
            f"WHERE {label} IS NOT NULL GROUP BY 1"
        ).fetchall()
        total = sum(n for _, n in rows) or 1
        return {"label": rest[0], "classes": {str(v): n / total for v, n in rows}}
    mean = con.execute(f"SELECT avg(TRY_CAST({label} AS DOUBLE)) FROM ({relation})").fetchall()
    return {"label": rest[0], "mean": float(mean[0][0]) if mean[0][0] is not None else 0.0}


__all__ = ["METRICS", "MonitorInfo", "MonitorRun", "Monitors"]
