"""Model performance once ground truth arrives: labels joined to logged predictions by id, the
window's metrics against the model's training evaluation and against a simple baseline model
(the training label prior), and which metrics degraded past the threshold."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.storage.warehouse import quote_literal

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pandas as pd

#: Relative degradation of a metric, against its training value, that raises an alert.
DEFAULT_PERFORMANCE_THRESHOLD = 0.05
#: Metrics where a higher value is better (the others — losses and errors — lower is better).
HIGHER_IS_BETTER = frozenset({"auc", "auc_pr", "accuracy", "r2"})
#: Fewest labelled rows for which window metrics are computed.
MIN_LABELLED_ROWS = 10


@dataclass
class Performance:
    """A window's metrics next to the training evaluation and the baseline model."""

    rows: int
    metrics: dict[str, float]
    training: dict[str, float]
    baseline_model: dict[str, float]
    threshold: float
    degraded: list[str] = field(default_factory=list)
    limits: dict[str, float] = field(default_factory=dict)  # metric → value that alerts

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "rows": self.rows,
            "metrics": self.metrics,
            "training": self.training,
            "baseline_model": self.baseline_model,
            "threshold": self.threshold,
            "degraded": self.degraded,
            "limits": self.limits,
        }


def check_performance_threshold(value: Any) -> float:
    """A relative degradation in (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise InvalidInput(f"the performance threshold must be in (0, 1), got {value!r}")
    return float(value)


def training_metrics(manifest: Mapping[str, Any]) -> dict[str, float]:
    """The model's held-out evaluation from its manifest (`test_auc` → `auc`, ...)."""
    out = {}
    for key, value in (manifest.get("metrics") or {}).items():
        if key.startswith("test_") and isinstance(value, int | float):
            out[key[5:]] = float(value)
    return out


# -- labels -------------------------------------------------------------------------------------


def labels_dir(root: Path, monitor: str) -> Path:
    """Where a monitor's labels are kept (Parquet files, temp + rename)."""
    return root / monitor


def pending_files(root: Path, monitor: str) -> list[Path]:
    """Label files not scored by a run yet, oldest first."""
    return sorted(labels_dir(root, monitor).glob("*.parquet"))


def mark_scored(root: Path, monitor: str, files: list[Path]) -> None:
    """Set scored label files aside (renamed into `scored/`), so no run counts them again."""
    done = labels_dir(root, monitor) / "scored"
    done.mkdir(parents=True, exist_ok=True)
    for f in files:
        if f.exists():
            os.replace(f, done / f.name)


def read_label_input(data: Any, id_column: str, label_column: str) -> pd.DataFrame:
    """Labels from a DataFrame or a CSV / Parquet / JSONL file: `id`, `label` as text."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        path = Path(os.fspath(data)).expanduser()
        if not path.is_file():
            raise InvalidInput(f"no such file: {path}")
        from pmle.data.sources import detect_format

        fmt = detect_format(path)
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        elif fmt == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            raise InvalidInput(f"cannot read labels from {path.name}", hint="CSV, Parquet, JSONL")
    missing = [c for c in (id_column, label_column) if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"the labels have no column(s) {', '.join(map(repr, missing))}",
            hint=f"columns: {', '.join(map(str, frame.columns))}; name them with --id-column / "
            "--label-column",
        )
    out = pd.DataFrame({"id": frame[id_column].map(_text), "label": frame[label_column].map(_text)})
    if out["id"].isna().any():
        raise InvalidInput(f"{int(out['id'].isna().sum())} label row(s) have no id")
    if out["label"].isna().any():
        raise InvalidInput(f"{int(out['label'].isna().sum())} label row(s) have no label")
    if out.empty:
        raise InvalidInput("no labels given")
    return out


def _text(value: Any) -> str | None:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_labels(root: Path, monitor: str, labels: pd.DataFrame) -> Path:
    """Append labels as one Parquet file (temp + rename): a crash leaves none or all."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = labels_dir(root, monitor)
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "id": pa.array(labels["id"].tolist(), pa.string()),
            "label": pa.array(labels["label"].tolist(), pa.string()),
            "received_at": pa.array([time.time()] * len(labels), pa.float64()),
        }
    )
    name = f"labels-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{time.time_ns()}"
    tmp = folder / f".{name}.parquet.tmp"
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    final = folder / f"{name}.parquet"
    os.replace(tmp, final)
    return final


def check_label_ids(con: duckdb.DuckDBPyConnection, logged: str, labels: pd.DataFrame) -> None:
    """Every label id names exactly one logged prediction; InvalidInput otherwise."""
    con.register("_pmle_new_labels", labels)
    try:
        rows = con.execute(
            f"SELECT l.id, count(p._id) AS n FROM _pmle_new_labels l "
            f"LEFT JOIN ({logged}) p ON p._id = l.id GROUP BY l.id HAVING count(p._id) != 1 "
            f"ORDER BY n, l.id LIMIT 6"
        ).fetchall()
        total_bad = con.execute(
            f"SELECT count(*) FROM (SELECT l.id FROM _pmle_new_labels l "
            f"LEFT JOIN ({logged}) p ON p._id = l.id GROUP BY l.id HAVING count(p._id) != 1)"
        ).fetchall()
    finally:
        con.unregister("_pmle_new_labels")
    if not rows:
        return
    unknown = [r[0] for r in rows if r[1] == 0]
    if unknown:
        raise InvalidInput(
            f"{total_bad[0][0] if total_bad else len(rows)} label id(s) match no logged "
            f"prediction, e.g. {', '.join(map(repr, unknown[:5]))}",
            hint="ids are the monitor's id field of each logged instance (or the request id); "
            "only logged (sampled) predictions can be labelled",
        )
    ambiguous = rows[0]
    raise InvalidInput(
        f"label id {ambiguous[0]!r} matches {ambiguous[1]} logged predictions",
        hint="give every instance its own id and name that field when creating the monitor "
        "(--id-field)",
    )


def labelled(con: duckdb.DuckDBPyConnection, logged: str, files: list[Path]) -> pd.DataFrame:
    """Logged predictions with a label in `files` (the newest label per id)."""
    paths = ", ".join(quote_literal(str(f)) for f in files)
    return con.sql(
        f"WITH l AS (SELECT id, arg_max(label, received_at) AS label "
        f"FROM read_parquet([{paths}]) GROUP BY id) "
        f"SELECT w._id AS id, w._prediction AS prediction, l.label AS label "
        f"FROM ({logged}) w JOIN l ON l.id = w._id"
    ).df()


def check_label_values(labels: pd.DataFrame, task: str, classes: list[Any] | None) -> None:
    """Labels a run can score: the model's classes, or numbers for a regressor."""
    if task in {"binary", "multiclass"}:
        known = {str(c) for c in classes or []}
        unknown = sorted(set(labels["label"]) - known)
        if unknown:
            raise InvalidInput(
                f"label(s) {', '.join(map(repr, unknown[:5]))} are not classes of the model",
                hint=f"classes: {', '.join(sorted(known))}",
            )
        return
    bad = [v for v in labels["label"] if not _is_number(v)]
    if bad:
        raise InvalidInput(f"label(s) {', '.join(map(repr, bad[:5]))} are not numbers")


def _is_number(text: str) -> bool:
    import math

    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# -- metrics ------------------------------------------------------------------------------------


def evaluate(
    rows: pd.DataFrame,
    *,
    task: str,
    classes: list[Any] | None,
    training: Mapping[str, float],
    prior: Mapping[str, Any],
    threshold: float,
) -> Performance | None:
    """Metrics of logged predictions against their labels; None below MIN_LABELLED_ROWS."""
    import numpy as np

    from pmle.automl import objectives

    if len(rows) < MIN_LABELLED_ROWS:
        return None
    names = objectives.REPORTED[task]
    if task in {"binary", "multiclass"}:
        labels = [str(c) for c in classes or []]
        index = {c: i for i, c in enumerate(labels)}
        unknown = sorted(set(rows["label"]) - set(index))
        if unknown:
            raise InvalidInput(
                f"label(s) {', '.join(map(repr, unknown[:5]))} are not classes of the model",
                hint=f"classes: {', '.join(labels)}",
            )
        y = rows["label"].map(index).to_numpy(dtype="int64")
        proba = _probabilities(rows["prediction"], labels)
        two_classes = len(np.unique(y)) >= 2
        keep = [n for n in names if n not in {"auc", "auc_pr"} or two_classes]
        metrics = {n: objectives.metric(n, y, proba) for n in keep}
        baseline = {}
        freq = np.asarray([float(prior.get("classes", {}).get(c, 0.0)) for c in labels])
        if freq.sum() > 0:  # the training label prior, when known
            base = np.tile(freq / freq.sum(), (len(y), 1))
            baseline = {n: objectives.metric(n, y, base) for n in keep}
    else:
        y = rows["label"].astype("float64").to_numpy()
        values = np.asarray([_value(p) for p in rows["prediction"]], dtype="float64")
        metrics = {n: objectives.metric(n, y, values) for n in names}
        baseline = {}
        if "mean" in prior:  # the training label mean, when known
            mean = np.full(len(y), float(prior["mean"]))
            baseline = {n: objectives.metric(n, y, mean) for n in names}
    perf = Performance(len(rows), metrics, dict(training), baseline, threshold)
    for name, value in metrics.items():
        if name not in training:
            continue
        ref = training[name]
        if name in HIGHER_IS_BETTER:
            limit = ref - threshold * abs(ref)
            bad = value < limit
        else:
            limit = ref + threshold * abs(ref)
            bad = value > limit
        perf.limits[name] = limit
        if bad:
            perf.degraded.append(name)
    return perf


def _probabilities(predictions: pd.Series, classes: list[str]) -> np.ndarray:
    """Class probabilities from logged predictions: Vertex's {classes, scores}, or a label
    (one-hot) when only labels were logged (KServe V1)."""
    import numpy as np
    import orjson

    out = np.zeros((len(predictions), len(classes)))
    index = {c: i for i, c in enumerate(classes)}
    for row, text in enumerate(predictions):
        p = orjson.loads(text)
        if isinstance(p, dict) and "scores" in p:
            order = [str(c) for c in p.get("classes", classes)]
            for c, s in zip(order, p["scores"], strict=False):
                if c in index:
                    out[row, index[c]] = float(s)
        else:
            label = str(p.get("label", p) if isinstance(p, dict) else p)
            if label in index:
                out[row, index[label]] = 1.0
    return out


def _value(text: str) -> float:
    import orjson

    p = orjson.loads(text)
    if isinstance(p, dict):
        p = p.get("value")
    if isinstance(p, list) and len(p) == 1:
        p = p[0]
    return float(p) if isinstance(p, int | float) else float("nan")
