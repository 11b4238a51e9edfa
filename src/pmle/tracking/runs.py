"""A run being recorded (:class:`Run`): parameters, metrics and their curves, tags, notes,
artifacts, the datasets it read and the models it made.

A run is an object, not a global: `with ws.tracking.start_run("churn") as run:` gives one,
`run.child()` a nested one. Runs started from several threads or asyncio tasks each write
their own rows, so they never mix. Every call is written at once, in its own transaction:
nothing logged is lost when the process dies afterwards.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pmle.tracking.records import RunInfo
    from pmle.tracking.tracker import Tracking

__all__ = ["Run"]

#: longest parameter and tag value kept (longer ones are an error, not cut silently)
MAX_VALUE = 6000


def _text(value: Any) -> str:
    """A parameter or tag value as stored: text (numbers as Python prints them)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if value is None:
        return "None"
    return str(value)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"metric {key!r} must be a number, got {value!r}") from None
    return number


def _check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 250:
        raise InvalidInput(f"{what} names are non-empty text of at most 250 characters: {key!r}")
    return key


class Run:
    """One run: log to it, then end it (or use it as a context manager, which ends it
    FINISHED, FAILED on an exception, KILLED on Ctrl-C)."""

    def __init__(self, tracking: Tracking, info: RunInfo, execution_id: int | None) -> None:
        self._tracking = tracking
        self.id = info.id
        self.name = info.name
        self.experiment = info.experiment
        self.parent_id = info.parent_id
        self._execution_id = execution_id
        self._steps: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ended = False
        self._ends = True  # False: attached to a run another process ends (a job's run)
        self._close_workspace = False  # pmle.start_run opened the workspace for this run

    def __repr__(self) -> str:
        return f"Run({self.experiment}/{self.name}, id={self.id})"

    @property
    def ref(self) -> str:
        return f"{self.experiment}/{self.name}"

    @property
    def info(self) -> RunInfo:
        """The run as stored now."""
        return self._tracking.run(self.id)

    # -- logging ------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Parameters are set once: the same value again is fine, another one is a Conflict."""
        rows = {_check_key(k, "parameter"): _text(v) for k, v in params.items()}
        for key, value in rows.items():
            if len(value) > MAX_VALUE:
                raise InvalidInput(f"parameter {key!r} is longer than {MAX_VALUE} characters")
        self._write()
        clash = self._tracking._store.log_params(self.id, rows)
        if clash:
            key, old, new = clash
            raise Conflict(
                f"parameter {key!r} of run {self.ref} is {old!r}; it cannot become {new!r}",
                hint="parameters are set once per run: log the new value in another run, "
                "or as a tag",
            )

    def log_metric(
        self, key: str, value: Any, step: int | None = None, timestamp: float | None = None
    ) -> None:
        self.log_metrics({key: value}, step=step, timestamp=timestamp)

    def log_metrics(
        self, metrics: Mapping[str, Any], step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Log values (one point of each metric's curve). Without `step`, each metric's next
        step (0, 1, 2, … per metric); NaN is kept (read back as NaN)."""
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise InvalidInput(f"step must be a whole number, got {step!r}")
        values = {_check_key(k, "metric"): _number(k, v) for k, v in metrics.items()}
        when = time.time() if timestamp is None else float(timestamp)
        with self._lock:
            points = []
            for key, value in values.items():
                at = self._steps.get(key, 0) if step is None else step
                self._steps[key] = max(self._steps.get(key, 0), at + 1)
                points.append((key, at, None if math.isnan(value) else value))
        self._write()
        self._tracking._store.log_metrics(self.id, points, when)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags can change (the latest value is kept)."""
        rows = {_check_key(k, "tag"): _text(v) for k, v in tags.items()}
        for key, value in rows.items():
            if len(value) > MAX_VALUE:
                raise InvalidInput(f"tag {key!r} is longer than {MAX_VALUE} characters")
        self._tracking._store.set_tags(self.id, rows)

    def note(self, text: str) -> None:
        """Set the run's notes (free text, Markdown welcome)."""
        self._tracking._store.set_notes(self.id, str(text))

    def log_artifact(self, path: str | Path, name: str | None = None) -> str:
        """Keep a file or a folder with the run (content-addressed in the artifact store);
        returns the name it has in the run."""
        source = Path(path)
        if not source.exists():
            raise InvalidInput(f"no file or folder at {source}")
        store = self._tracking._ws.artifacts
        if source.is_dir():
            key = store.put_tree(source)
            size = sum(p.stat().st_size for p in source.rglob("*") if p.is_file())
        else:
            key = store.put_file(source)
            size = source.stat().st_size
        stored = name or source.name
        self._tracking._store.add_artifact(self.id, stored, key, size, source.is_dir())
        return stored

    def log_text(self, text: str, name: str) -> str:
        """Keep a text (a report, a config) as an artifact named `name`."""
        store = self._tracking._ws.artifacts
        data = text.encode("utf-8")
        key = store.put_bytes(data)
        self._tracking._store.add_artifact(self.id, name, key, len(data), False)
        return name

    def log_figure(self, figure: Any, name: str) -> str:
        """Keep a matplotlib figure as a PNG artifact named `name`."""
        import io

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        data = buffer.getvalue()
        key = self._tracking._ws.artifacts.put_bytes(data)
        self._tracking._store.add_artifact(self.id, name, key, len(data), False)
        return name

    def log_dataset(self, ref: str) -> None:
        """Record that the run read a dataset version (`NAME`, `NAME@VERSION`): lineage."""
        version = self._tracking._ws.datasets.get(ref)
        if version.lineage_artifact_id is None or self._execution_id is None:
            return
        self._tracking._store.link(self._execution_id, inputs=[version.lineage_artifact_id])

    def log_model(self, ref: str) -> None:
        """Record that the run made a registered model version (`NAME@VERSION`): lineage."""
        self._tracking.log_model(self.id, ref)

    def autolog(self, *, models: bool = True, register: str | None = None) -> Any:
        """A context manager logging what scikit-learn, LightGBM and XGBoost fit inside it
        (params, per-iteration metrics, training metrics, the model; `register`: also as a
        new version of that registry model). See :mod:`pmle.tracking.autolog`."""
        from pmle.tracking.autolog import autolog

        return autolog(self, models=models, register=register)

    # -- nesting and ending -------------------------------------------------------------------

    def child(self, name: str | None = None, **kwargs: Any) -> Run:
        """A nested run in the same experiment."""
        return self._tracking.start_run(self.experiment, name, parent=self, **kwargs)

    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        """End the run (FINISHED, FAILED or KILLED); ending twice does nothing."""
        if status not in {"FINISHED", "FAILED", "KILLED"}:
            raise InvalidInput(f"a run ends FINISHED, FAILED or KILLED, not {status!r}")
        with self._lock:
            if self._ended:
                return
            self._ended = True
        if self._ends:
            self._tracking._store.end_run(self.id, status, error, self._execution_id)
        if self._close_workspace:
            self._tracking._ws.close()

    def _write(self) -> None:
        if self._ended:
            raise Conflict(f"run {self.ref} has ended", hint="start another run to log more")

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: Any
    ) -> None:
        if kind is None:
            self.end("FINISHED")
        elif issubclass(kind, KeyboardInterrupt):
            self.end("KILLED", "interrupted")
        else:
            self.end("FAILED", f"{kind.__name__}: {exc}")
