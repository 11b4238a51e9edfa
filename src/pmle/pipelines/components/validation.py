"""Data validation before training: a dataset version against a baseline version.

Two checks, as TFX's ExampleValidator / Vertex's skew detection do them:

- **schema**: every baseline column is still there, no column was added, and no column changed
  its type family (integer, float, boolean, string, datetime, date);
- **statistics**: for each shared numeric feature the Jensen–Shannon divergence, for each
  categorical or boolean feature the L-infinity distance (pmle.monitoring's histograms, fitted
  on the baseline by DuckDB) must not exceed `max_distance`.

The baseline is the one named, else the dataset's previous version; a first version has
nothing to compare with and passes (its row count is still checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.data.datasets import DatasetVersion
    from pmle.workspace import Workspace

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "FeatureDistance",
    "ValidationReport",
    "check_dataset",
    "validate_data_step",
]

#: Vertex AI Model Monitoring's default threshold, for both distances.
DEFAULT_MAX_DISTANCE = 0.3
# Column kinds (pmle.data.schema) compared by histogram, and as which histogram.
_HISTOGRAM_KINDS = {"numeric": "numeric", "categorical": "categorical", "boolean": "categorical"}


@dataclass(frozen=True)
class FeatureDistance:
    """One feature's distance from the baseline."""

    feature: str
    metric: str  # jensen_shannon_divergence | l_infinity
    value: float


@dataclass(frozen=True)
class ValidationReport:
    """What validating a dataset version found."""

    dataset: DatasetVersion
    baseline: DatasetVersion | None
    max_distance: float
    missing: list[str] = field(default_factory=list)  # baseline columns the dataset lacks
    extra: list[str] = field(default_factory=list)  # columns the baseline lacks
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # column → (was, is)
    distances: list[FeatureDistance] = field(default_factory=list)

    @property
    def drifted(self) -> list[FeatureDistance]:
        """Features farther from the baseline than `max_distance`."""
        return [d for d in self.distances if d.value > self.max_distance]

    @property
    def problems(self) -> list[str]:
        """Each failed check, in words; empty when the dataset passed."""
        out = []
        if self.dataset.num_rows == 0:
            out.append("it has no rows")
        if self.missing:
            out.append(f"column(s) missing: {', '.join(self.missing)}")
        if self.extra:
            out.append(f"unexpected column(s): {', '.join(self.extra)}")
        if self.changed:
            out.append(
                "type changed: "
                + ", ".join(f"{c} ({was} → {now})" for c, (was, now) in self.changed.items())
            )
        if self.drifted:
            out.append(
                f"feature(s) over max_distance {self.max_distance:g}: "
                + ", ".join(f"{d.feature} ({d.metric} {d.value:.3f})" for d in self.drifted)
            )
        return out

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return not self.problems

    def metadata(self) -> dict[str, Any]:
        """The Dataset artifact's metadata: what was validated against what, and the lineage
        id of the dataset version (`pmle_inputs`, turned into an input edge by the runner)."""
        meta: dict[str, Any] = {
            "dataset": self.dataset.ref,
            "rows": self.dataset.num_rows,
            "columns": len(self.dataset.columns),
            "baseline": self.baseline.ref if self.baseline is not None else "",
            "max_distance": self.max_distance,
            "distances": {d.feature: round(d.value, 6) for d in self.distances},
        }
        if self.dataset.lineage_artifact_id is not None:
            meta["pmle_inputs"] = [self.dataset.lineage_artifact_id]
        return meta


def _baseline_of(ws: Workspace, dv: DatasetVersion, baseline: str) -> DatasetVersion | None:
    if baseline:
        return ws.datasets.get(baseline)
    earlier = [v for v in ws.datasets.versions(dv.name) if v.version < dv.version]
    return earlier[-1] if earlier else None


def _distances(
    ws: Workspace, dv: DatasetVersion, base: DatasetVersion, features: dict[str, str]
) -> list[FeatureDistance]:
    import duckdb

    from pmle.monitoring import sql_histograms
    from pmle.monitoring.drift import METRICS
    from pmle.storage.warehouse import quote_literal

    def relation(version: DatasetVersion) -> str:
        return f"SELECT * FROM read_parquet({quote_literal(str(ws.datasets.path(version)))})"

    con = duckdb.connect()
    try:
        hists = sql_histograms.fit(con, relation(base), features)
        counts = sql_histograms.count_all(con, relation(dv), hists)
    finally:
        con.close()
    return [
        FeatureDistance(name, METRICS[type(h)], float(h.distance_from_counts(counts[name])))
        for name, h in hists.items()
    ]


def check_dataset(
    ws: Workspace,
    dataset: str,
    *,
    baseline: str = "",
    max_distance: float = DEFAULT_MAX_DISTANCE,
) -> ValidationReport:
    """Validate `dataset` (NAME[@V]) against `baseline` (NAME@V; default: the previous
    version); see the module docstring. Never raises for a failed check: read `.passed`."""
    if isinstance(max_distance, bool) or not isinstance(max_distance, int | float):
        raise InvalidInput(f"max_distance must be a number in [0, 1], got {max_distance!r}")
    if not 0 <= max_distance <= 1:
        raise InvalidInput(f"max_distance must be in [0, 1], got {max_distance!r}")
    dv = ws.datasets.get(dataset)
    base = _baseline_of(ws, dv, baseline)
    if base is None:
        return ValidationReport(dv, None, float(max_distance))
    have = {c.name: c for c in dv.columns}
    was = {c.name: c for c in base.columns}
    missing = [n for n in was if n not in have]
    extra = [n for n in have if n not in was]
    changed = {
        n: (was[n].family, have[n].family)
        for n in was
        if n in have and was[n].family != have[n].family
    }
    features = {
        n: _HISTOGRAM_KINDS[c.kind]
        for n, c in was.items()
        if n in have and n not in changed and c.kind in _HISTOGRAM_KINDS
    }
    distances = (
        _distances(ws, dv, base, features) if features and dv.num_rows and base.num_rows else []
    )
    return ValidationReport(dv, base, float(max_distance), missing, extra, changed, distances)


def validate_data_step(
    ws: Workspace,
    dataset: str,
    *,
    baseline: str = "",
    max_distance: float = DEFAULT_MAX_DISTANCE,
    out_path: str | Path | None = None,
) -> ValidationReport:
    """:func:`check_dataset`, raising InvalidInput that names every failed check; when it
    passes, the version's Parquet file is copied to `out_path` (the Dataset artifact)."""
    import shutil

    report = check_dataset(ws, dataset, baseline=baseline, max_distance=max_distance)
    if not report.passed:
        against = f" against {report.baseline.ref}" if report.baseline is not None else ""
        raise InvalidInput(
            f"dataset {report.dataset.ref} failed validation{against}: "
            + "; ".join(report.problems),
            hint="fix the data, or validate against another baseline / a larger max_distance",
        )
    if out_path is not None:
        target = Path(out_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ws.datasets.path(report.dataset), target)
    return report
