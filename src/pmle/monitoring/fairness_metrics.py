"""Fairness metrics of a classifier's decisions across the groups of a sensitive column (Vertex
AI's "model evaluation for fairness", computed with fairlearn), the report they make and its
model-card section: pure computations, no workspace or storage (`fairness.Fairness` runs them).

Definitions (positive = the favourable class; a multiclass model is read one-vs-rest):

- By group (fairlearn `MetricFrame`): rows, share of rows, selection rate (predicted positive),
  accuracy (prediction equals the label), TPR (recall), FPR, precision, and the positive rate in
  the true labels. A rate whose denominator is empty is undefined (null).
- Demographic parity difference / ratio (fairlearn): max − min / min ÷ max of the groups'
  selection rates. Equalized odds difference / ratio (fairlearn, `agg="worst_case"`): the larger
  of the TPR and FPR differences / the smaller of the TPR and FPR ratios; fairlearn counts an
  undefined TPR or FPR as 0.
- Vertex AI's data bias metrics, slice 1 against slice 2
  (https://cloud.google.com/vertex-ai/docs/evaluation/data-bias-metrics): difference in
  population size (n1 − n2) / (n1 + n2); difference in positive proportions in true labels
  q1 − q2, with q the share of positive labels.
- Vertex AI's model bias metrics, slice 1 against slice 2
  (https://cloud.google.com/vertex-ai/docs/evaluation/model-bias-metrics): accuracy difference,
  difference in positive proportions in predicted labels, recall difference, specificity
  difference, difference in ratio of error types (fn1 / fp1 − fn2 / fp2), all on the
  positive-vs-rest labels.
- Slices as Vertex's `BiasConfig.bias_slices`: two given groups, or one given group against the
  rest; by default the two largest groups. Every group is also compared with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pmle._util import as_utc
from pmle.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import numpy as np

#: A sensitive column with more distinct values than this is not a grouping (bin it first).
MAX_GROUPS = 50
#: Groups smaller than this get a note: their rates are noisy.
SMALL_GROUP = 30
MISSING = "(missing)"
REST = "(rest)"
GROUP_METRICS = (
    "selection_rate",
    "accuracy",
    "tpr",
    "fpr",
    "precision",
    "label_positive_rate",
)
SLICE_METRICS = (
    "difference_in_population_size",
    "difference_in_positive_proportions_in_true_labels",
    "accuracy_difference",
    "difference_in_positive_proportions_in_predicted_labels",
    "recall_difference",
    "specificity_difference",
    "difference_in_ratio_of_error_types",
)


def _num(value: Any) -> float | None:
    """A float, or None for NaN / undefined (JSON has no NaN)."""
    if value is None:
        return None
    out = float(value)
    return None if out != out else out


def _div(a: float, b: float) -> float | None:
    return a / b if b else None


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


# -- pure metrics ---------------------------------------------------------------------------------


def slice_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, in_1: np.ndarray, in_2: np.ndarray
) -> dict[str, float | None]:
    """Vertex AI's data and model bias metrics of slice 1 against slice 2.

    `y_true` / `y_pred` are booleans (positive or not); `in_1` / `in_2` select the slices."""
    import numpy as np

    def confusion(mask: np.ndarray) -> tuple[int, int, int, int, int]:
        t, p = y_true[mask], y_pred[mask]
        tp, fn = int(np.sum(t & p)), int(np.sum(t & ~p))
        fp, tn = int(np.sum(~t & p)), int(np.sum(~t & ~p))
        return tp, fn, fp, tn, tp + fn + fp + tn

    tp1, fn1, fp1, tn1, n1 = confusion(in_1)
    tp2, fn2, fp2, tn2, n2 = confusion(in_2)
    return {
        "difference_in_population_size": _div(n1 - n2, n1 + n2),
        "difference_in_positive_proportions_in_true_labels": _minus(
            _div(tp1 + fn1, n1), _div(tp2 + fn2, n2)
        ),
        "accuracy_difference": _minus(_div(tp1 + tn1, n1), _div(tp2 + tn2, n2)),
        "difference_in_positive_proportions_in_predicted_labels": _minus(
            _div(tp1 + fp1, n1), _div(tp2 + fp2, n2)
        ),
        "recall_difference": _minus(_div(tp1, tp1 + fn1), _div(tp2, tp2 + fn2)),
        "specificity_difference": _minus(_div(tn1, tn1 + fp1), _div(tn2, tn2 + fp2)),
        "difference_in_ratio_of_error_types": _minus(_div(fn1, fp1), _div(fn2, fp2)),
    }


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """mean of `numerator` where `denominator`; NaN when empty (MetricFrame keeps NaN)."""
    import numpy as np

    n = int(np.sum(denominator))
    return float(np.sum(numerator & denominator)) / n if n else float("nan")


def _tpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _rate(y_pred.astype(bool), y_true.astype(bool))


def _fpr(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _rate(y_pred.astype(bool), ~y_true.astype(bool))


def _precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return _rate(y_true.astype(bool), y_pred.astype(bool))


def _label_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(y_true.mean()) if len(y_true) else float("nan")


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray, correct: np.ndarray) -> float:
    return float(correct.mean()) if len(correct) else float("nan")


# -- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupMetrics:
    """The metrics of one group, and Vertex's bias metrics of this group against the rest."""

    group: str
    count: int
    share: float
    metrics: dict[str, float | None]  # GROUP_METRICS
    vs_rest: dict[str, float | None]  # SLICE_METRICS; empty when there is no rest

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "group": self.group,
            "count": self.count,
            "share": self.share,
            **self.metrics,
            "vs_rest": dict(self.vs_rest),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupMetrics:
        """Read back `to_dict`."""
        return cls(
            d["group"],
            d["count"],
            d["share"],
            {k: d.get(k) for k in GROUP_METRICS},
            dict(d.get("vs_rest") or {}),
        )


@dataclass(frozen=True)
class FairnessReport:
    """Fairness of one model version on one data source across one sensitive column."""

    model: str  # NAME@VERSION
    sensitive: str
    label: str
    positive: Any
    source: str
    rows: int
    dropped_rows: int
    groups: list[GroupMetrics]
    demographic_parity_difference: float | None
    demographic_parity_ratio: float | None
    equalized_odds_difference: float | None
    equalized_odds_ratio: float | None
    slices: tuple[str, str] | None  # slice 1, slice 2 (REST = every other group)
    slice_metrics: dict[str, float | None]
    notes: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    id: int | None = None

    def group(self, name: str) -> GroupMetrics:
        """One group's metrics by its label."""
        for g in self.groups:
            if g.group == name:
                return g
        raise NotFound(
            f"no group {name!r} in {self.sensitive!r}",
            hint=f"groups: {', '.join(g.group for g in self.groups)}",
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (as stored and as `pmle fairness --json` prints it)."""
        return {
            "id": self.id,
            "model": self.model,
            "sensitive": self.sensitive,
            "label": self.label,
            "positive": self.positive,
            "source": self.source,
            "rows": self.rows,
            "dropped_rows": self.dropped_rows,
            "demographic_parity_difference": self.demographic_parity_difference,
            "demographic_parity_ratio": self.demographic_parity_ratio,
            "equalized_odds_difference": self.equalized_odds_difference,
            "equalized_odds_ratio": self.equalized_odds_ratio,
            "slices": list(self.slices) if self.slices else None,
            "slice_metrics": dict(self.slice_metrics),
            "groups": [g.to_dict() for g in self.groups],
            "notes": list(self.notes),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], *, id: int | None = None, created_at: datetime | None = None
    ) -> FairnessReport:
        """Read back `to_dict`."""
        when = created_at or (
            datetime.fromisoformat(d["created_at"]) if d.get("created_at") else None
        )
        when = as_utc(when)
        slices = d.get("slices")
        return cls(
            model=d["model"],
            sensitive=d["sensitive"],
            label=d["label"],
            positive=d["positive"],
            source=d["source"],
            rows=d["rows"],
            dropped_rows=d.get("dropped_rows", 0),
            groups=[GroupMetrics.from_dict(g) for g in d["groups"]],
            demographic_parity_difference=d.get("demographic_parity_difference"),
            demographic_parity_ratio=d.get("demographic_parity_ratio"),
            equalized_odds_difference=d.get("equalized_odds_difference"),
            equalized_odds_ratio=d.get("equalized_odds_ratio"),
            slices=(slices[0], slices[1]) if slices else None,
            slice_metrics=dict(d.get("slice_metrics") or {}),
            notes=list(d.get("notes") or []),
            created_at=when,
            id=id if id is not None else d.get("id"),
        )


def compute(
    y_true: Any,
    y_pred: Any,
    groups: Any,
    positive: Any,
    *,
    slices: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The report's metrics from labels, predictions and group labels (strings).

    Returns the fields of :class:`FairnessReport` that depend only on these three arrays.
    InvalidInput for no rows, arrays of different lengths, missing group labels or slices that
    cannot be compared."""
    import numpy as np
    import pandas as pd
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
        selection_rate,
    )

    truth = np.asarray(y_true, dtype=object).reshape(-1)
    pred = np.asarray(y_pred, dtype=object).reshape(-1)
    g = np.asarray(groups, dtype=object).reshape(-1)
    if not len(truth) == len(pred) == len(g):
        raise InvalidInput(
            f"labels, predictions and groups differ in length ({len(truth)}, {len(pred)}, {len(g)})"
        )
    if len(g) == 0:
        raise InvalidInput("no rows to measure fairness on", hint="give labelled rows")
    if bool(pd.isna(g).any()):
        raise InvalidInput(
            "the group labels hold missing values",
            hint=f"label them first, e.g. as {MISSING!r}, or drop those rows",
        )
    yt = truth == positive
    yp = pred == positive
    correct = np.fromiter((a == b for a, b in zip(pred, truth, strict=True)), bool, len(truth))
    sensitive = pd.Series(g, name="group")
    kw = {"sensitive_features": sensitive}
    try:
        frame = MetricFrame(
            metrics={
                "count": count,
                "selection_rate": selection_rate,
                "accuracy": _accuracy,
                "tpr": _tpr,
                "fpr": _fpr,
                "precision": _precision,
                "label_positive_rate": _label_rate,
            },
            y_true=yt.astype(int),
            y_pred=yp.astype(int),
            sensitive_features=sensitive,
            sample_params={"accuracy": {"correct": correct}},
        )
        parity = [
            f(yt, yp, **kw) for f in (demographic_parity_difference, demographic_parity_ratio)
        ]
        odds = [f(yt, yp, **kw) for f in (equalized_odds_difference, equalized_odds_ratio)]
    except ValueError as exc:  # fairlearn's own checks of its inputs
        raise InvalidInput(f"fairness metrics cannot be computed: {exc}")
    by_group = frame.by_group
    total = len(truth)
    order = sorted(by_group.index, key=lambda k: (-int(by_group.loc[k, "count"]), str(k)))
    rows = []
    for name in order:
        member = g == name
        rest = ~member
        rows.append(
            GroupMetrics(
                group=str(name),
                count=int(by_group.loc[name, "count"]),
                share=int(by_group.loc[name, "count"]) / total,
                metrics={k: _num(by_group.loc[name, k]) for k in GROUP_METRICS},
                vs_rest=slice_metrics(yt, yp, member, rest) if rest.any() else {},
            )
        )
    labels = [r.group for r in rows]
    unknown = [s for s in slices if s not in labels]
    if unknown or len(slices) > 2 or (len(slices) == 2 and slices[0] == slices[1]):
        raise InvalidInput(
            f"cannot compare slices {list(slices)}"
            + (f": no group {', '.join(map(repr, unknown))}" if unknown else ""),
            hint=f"give one or two different groups of: {', '.join(labels[:MAX_GROUPS])}",
        )
    if len(slices) == 1 and len(labels) < 2:
        raise InvalidInput(
            f"cannot compare slice {slices[0]!r} with the rest: it is the only group",
            hint="measure data with more than one group",
        )
    pair: tuple[str, str] | None
    if len(slices) == 2:
        pair = (slices[0], slices[1])
    elif len(slices) == 1:
        pair = (slices[0], REST)
    else:
        pair = (labels[0], labels[1]) if len(labels) >= 2 else None
    compared: dict[str, float | None] = {}
    if pair is not None:
        in_1 = g == pair[0]
        in_2 = ~in_1 if pair[1] == REST else g == pair[1]
        compared = slice_metrics(yt, yp, in_1, in_2)
    return {
        "rows": total,
        "groups": rows,
        "demographic_parity_difference": _num(parity[0]),
        "demographic_parity_ratio": _num(parity[1]),
        "equalized_odds_difference": _num(odds[0]),
        "equalized_odds_ratio": _num(odds[1]),
        "slices": pair,
        "slice_metrics": compared,
        "notes": _notes(rows),
    }


def _notes(rows: list[GroupMetrics]) -> list[str]:
    notes = []
    for r in rows:
        if r.count < SMALL_GROUP:
            notes.append(f"group {r.group!r} has only {r.count} rows: its rates are noisy")
        if r.metrics["tpr"] is None:
            notes.append(
                f"group {r.group!r} has no positive labels: its TPR is undefined "
                "(fairlearn's equalized odds counts it as 0)"
            )
        if r.metrics["fpr"] is None:
            notes.append(
                f"group {r.group!r} has no negative labels: its FPR is undefined "
                "(fairlearn's equalized odds counts it as 0)"
            )
    return notes


# -- the model card -------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def card_section(reports: list[FairnessReport]) -> str:
    """The "Fairness" section of a model card (the Markdown subset `automl.card` renders)."""
    lines = ["## Fairness", ""]
    if not reports:
        return "\n".join([*lines, "No fairness report yet (`pmle fairness MODEL ...`).", ""])
    for r in reports:
        when = f" on {r.created_at:%Y-%m-%d}" if r.created_at else ""
        lines += [
            f"**Sensitive column `{r.sensitive}`** — `{r.source}`, {r.rows:,} rows, label "
            f"`{r.label}`, favourable outcome `{r.positive}`{when}",
            "",
            f"- Demographic parity difference: **{_fmt(r.demographic_parity_difference)}** "
            f"(ratio {_fmt(r.demographic_parity_ratio)})",
            f"- Equalized odds difference: **{_fmt(r.equalized_odds_difference)}** "
            f"(ratio {_fmt(r.equalized_odds_ratio)})",
        ]
        if r.slices:
            m = r.slice_metrics
            lines.append(
                f"- `{r.slices[0]}` vs `{r.slices[1]}`: difference in population size "
                f"{_fmt(m.get('difference_in_population_size'))}, difference in positive "
                "proportions in true labels "
                f"{_fmt(m.get('difference_in_positive_proportions_in_true_labels'))}, in "
                "predicted labels "
                f"{_fmt(m.get('difference_in_positive_proportions_in_predicted_labels'))}, "
                f"recall difference {_fmt(m.get('recall_difference'))}"
            )
        lines += [f"- Note: {n}" for n in r.notes]
        lines += [
            "",
            "| group | rows | share | selection rate | accuracy | TPR | FPR | precision | "
            "positive labels |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for g in r.groups:
            cells = " | ".join(_fmt(g.metrics.get(k)) for k in GROUP_METRICS)
            name = g.group.replace("|", "¦")  # a bar would split the table row
            lines.append(f"| {name} | {g.count:,} | {g.share:.1%} | {cells} |")
        lines.append("")
    return "\n".join(lines)
