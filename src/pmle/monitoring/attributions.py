"""Feature attributions: how much each input column moved one prediction away from a baseline.

Two methods, both Shapley values of the model's input columns:

- `tree_shap` — exact TreeSHAP, from the tree library itself (LightGBM `pred_contrib`, XGBoost
  `pred_contribs`, CatBoost `ShapValues`), for LightGBM and XGBoost models and for ensembles
  whose members are LightGBM, CatBoost or linear models (a linear member's attribution is
  `coef · (term − mean term)` over the training rows). Attributions are in the model's *score*
  space — log-odds for binary classifiers, the class's raw score for multiclass, the value for
  regression (log1p of it under a `log1p` target transform) — and add up exactly to the score
  minus the expected score. Ensemble members are combined with their weights, and the columns
  of the feature matrix are summed back into the input column they were made from.
- `sampled_shapley` — Vertex AI's method for any model: the attribution of a column is its mean
  marginal effect along `path_count` random orders in which columns switch from the baseline
  instance's value to the instance's value (drawn in antithetic pairs: an order and its
  reverse). The explained output is the class probability (classifiers) or the predicted
  value, and the attributions add up exactly to `f(instance) − f(baseline)`. All the
  intermediate rows of one call are predicted in chunks, and a call costing more than
  `MAX_EVALUATIONS` model evaluations is refused up front.

Classifiers are explained for the predicted class unless another output is asked for, as
Vertex AI does.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.monitoring.tree_shap import linear_term_means, needs_linear_means

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.models.format import LoadedModel
    from pmle.models.signature import Signature

METHODS = ("tree_shap", "sampled_shapley")
#: Vertex AI accepts path counts from 1 to 50.
DEFAULT_PATH_COUNT = 10
MAX_PATH_COUNT = 50
#: Rows predicted in one call by sampled Shapley (bounds memory).
_CHUNK_ROWS = 200_000
#: Model evaluations one sampled Shapley call may take (instances × paths × (columns − 1)):
#: a request beyond it is refused before any work rather than holding a worker for minutes.
MAX_EVALUATIONS = 2_000_000
_CLASSIFIERS = {"binary", "multiclass"}


@dataclass
class Explanation:
    """The attributions of one instance for one model output."""

    feature_attributions: dict[str, float]
    baseline_output: float
    instance_output: float
    method: str
    output_name: str  # the explained output: scores / value / logit / log1p_value / raw_score
    output_index: int | None = None  # class index (classifiers)
    output_display_name: str = ""  # class label (classifiers)
    approximation_error: float | None = None  # sampled Shapley only

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return dict(self.__dict__)

    def to_vertex(self) -> dict[str, Any]:
        """The instance's `Attribution` as Vertex AI's REST API writes it."""
        out: dict[str, Any] = {
            "baselineOutputValue": self.baseline_output,
            "instanceOutputValue": self.instance_output,
            "featureAttributions": self.feature_attributions,
            "outputName": self.output_name,
        }
        if self.output_index is not None:
            out["outputIndex"] = [self.output_index]
            out["outputDisplayName"] = self.output_display_name
        if self.approximation_error is not None:
            out["approximationError"] = self.approximation_error
        return out


@dataclass
class Attributions:
    """Attributions of n instances for every output of a model, as arrays."""

    method: str
    features: list[str]
    values: np.ndarray  # (n, outputs, features)
    baseline_output: np.ndarray  # (n, outputs)
    instance_output: np.ndarray  # (n, outputs)
    predicted: np.ndarray  # (n,) the output explained by default (the predicted class)
    output_name: str
    labels: list[str] | None = None  # class label per output (classifiers)
    error: np.ndarray | None = None  # (n, outputs) approximation error

    @property
    def n(self) -> int:
        """Number of instances."""
        return int(self.values.shape[0])

    def explain(self, row: int, output_index: int | None = None) -> Explanation:
        """One instance's explanation, for `output_index` or the predicted class."""
        k = int(self.predicted[row]) if output_index is None else self.check_output(output_index)
        err = None if self.error is None else float(self.error[row, k])
        return Explanation(
            feature_attributions={
                f: float(v) for f, v in zip(self.features, self.values[row, k], strict=True)
            },
            baseline_output=float(self.baseline_output[row, k]),
            instance_output=float(self.instance_output[row, k]),
            method=self.method,
            output_name=self.output_name,
            output_index=k if self.labels is not None else None,
            output_display_name=self.labels[k] if self.labels is not None else "",
            approximation_error=err,
        )

    def explanations(self, output_index: int | None = None) -> list[Explanation]:
        """Every instance's explanation."""
        return [self.explain(i, output_index) for i in range(self.n)]

    def check_output(self, index: int) -> int:
        """`index` (any integer type, numpy's too) if the model has that output; InvalidInput
        otherwise."""
        outputs = self.values.shape[1]
        if (
            isinstance(index, bool)
            or not isinstance(index, numbers.Integral)
            or not 0 <= int(index) < outputs
        ):
            raise InvalidInput(
                f"output index {index!r} is out of range",
                hint=f"this model has {outputs} output(s): 0..{outputs - 1}",
            )
        return int(index)

    def mean_abs(self) -> dict[str, float]:
        """Mean |attribution| per feature over the instances, for their predicted class."""
        import numpy as np

        if self.n == 0:
            return {f: 0.0 for f in self.features}
        chosen = self.values[np.arange(self.n), self.predicted.astype(int)]
        means = np.abs(chosen).mean(axis=0)
        return {f: float(v) for f, v in zip(self.features, means, strict=True)}


# -- choosing a method --------------------------------------------------------------------------


def exact_available(model: LoadedModel) -> bool:
    """Whether exact TreeSHAP covers this model (not LightGBM's linear trees: LightGBM has no
    TreeSHAP for them)."""
    from pmle.monitoring.tree_shap import lightgbm_facts

    if model.flavor == "xgboost":
        return True
    if model.flavor == "lightgbm":
        return not lightgbm_facts(model.native).linear
    if model.flavor == "ensemble":
        members = [m for m in model.native.members if m.weight > 0]
        return {m.kind for m in members} <= {"lightgbm", "catboost", "linear"} and not any(
            m.kind == "lightgbm" and lightgbm_facts(m.model).linear for m in members
        )
    return False


def resolve_method(model: LoadedModel, method: str) -> str:
    """`auto` → `tree_shap` where it is exact, else `sampled_shapley`; checks the name."""
    if method == "auto":
        return "tree_shap" if exact_available(model) else "sampled_shapley"
    if method not in METHODS:
        raise InvalidInput(
            f"unknown explanation method {method!r}",
            hint=f"use auto, {', '.join(METHODS)}",
        )
    if method == "tree_shap" and not exact_available(model):
        raise InvalidInput(
            f"exact TreeSHAP does not cover this {model.flavor} model",
            hint="it covers LightGBM (but not linear trees), XGBoost and ensembles of LightGBM, "
            "CatBoost and linear members; use method sampled_shapley",
        )
    return method


def check_path_count(path_count: Any) -> int:
    """A path count in Vertex AI's range [1, 50]."""
    if (
        isinstance(path_count, bool)
        or not isinstance(path_count, int)
        or not 1 <= path_count <= MAX_PATH_COUNT
    ):
        raise InvalidInput(
            f"path_count must be an integer from 1 to {MAX_PATH_COUNT}, got {path_count!r}",
            hint="more paths: more precise attributions, proportionally slower",
        )
    return path_count


def shapley_rows(d: int, path_count: int) -> int:
    """How many instances of `d` columns sampled Shapley explains within `MAX_EVALUATIONS`."""
    return MAX_EVALUATIONS // (path_count * max(d - 1, 1))


def check_cost(n: int, d: int, path_count: int) -> None:
    """InvalidInput when sampled Shapley of `n` instances would exceed `MAX_EVALUATIONS`."""
    cost = n * path_count * max(d - 1, 1)
    if cost > MAX_EVALUATIONS:
        most = shapley_rows(d, path_count)
        raise InvalidInput(
            f"sampled Shapley of {n:,} instance(s) with {path_count} paths over {d} columns "
            f"takes {cost:,} model evaluations, over the limit of {MAX_EVALUATIONS:,}",
            hint=f"send fewer instances or a smaller pathCount (at most {most:,} instance(s) "
            f"at pathCount {path_count})",
        )


# -- baselines ----------------------------------------------------------------------------------


def baseline_instance(signature: Signature, frame: pd.DataFrame) -> dict[str, Any]:
    """Vertex AI's default tabular baseline: the median of numeric columns and the most frequent
    value of the others (datetimes: the median, as ISO text). JSON-able."""
    import numpy as np
    import pandas as pd

    missing = [c for c in signature.input_names if c not in frame.columns]
    if missing:
        raise InvalidInput(f"the baseline data lacks column(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for spec in signature.inputs:
        s = frame[spec.name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        s = s.dropna()
        if s.empty:
            out[spec.name] = None
        elif spec.type in {"integer", "float"} and pd.api.types.is_numeric_dtype(s.dtype):
            x = s.to_numpy(dtype="float64")
            if spec.type == "integer":  # an observed value: a count of 7.5 is not an instance
                out[spec.name] = int(np.quantile(x, 0.5, method="lower"))
            else:
                out[spec.name] = float(np.median(x))
        elif spec.type == "datetime":
            out[spec.name] = pd.to_datetime(s).median().isoformat()
        else:
            value = s.value_counts().index[0]
            out[spec.name] = value.item() if isinstance(value, np.generic) else value
    return out


# -- exact TreeSHAP -----------------------------------------------------------------------------


def tree_shap(
    model: LoadedModel, data: Any, *, linear_means: Mapping[str, list[float]] | None = None
) -> Attributions:
    """Exact TreeSHAP attributions in the model's score space (see the module docstring).

    `linear_means` (from :func:`linear_term_means` on the training rows) is needed for
    ensembles with a linear member that has categorical terms."""
    import numpy as np

    from pmle.monitoring.tree_shap import contributions

    resolve_method(model, "tree_shap")
    frame = model.prepare(data)
    phi, expected, scores = contributions(model, frame, linear_means or {})
    gap = np.abs(phi.sum(axis=2) + expected - scores)
    tolerance = 1e-4 if model.flavor == "xgboost" else 1e-6  # XGBoost sums in float32
    if gap.size and float(gap.max()) > tolerance * (1.0 + float(np.abs(scores).max())):
        from pmle.errors import PmleError

        raise PmleError(
            f"TreeSHAP attributions miss the model's score by {float(gap.max()):.3g}",
            hint="please report this model; method sampled_shapley still works",
        )
    labels = _labels(model)
    if labels is None and scores.shape[1] != 1:
        raise _multi_output(scores.shape[1])
    if model.task == "binary":
        # One log-odds score; the log-odds of class 0 is its negation.
        phi = np.concatenate([-phi, phi], axis=1)
        expected = np.concatenate([-expected, expected], axis=1)
        scores = np.concatenate([-scores, scores], axis=1)
    if labels is not None:
        predicted = scores.argmax(axis=1)
        name = "logit"
    else:
        predicted = np.zeros(len(scores), dtype=int)
        name = _score_name(model, frame, scores)
    return Attributions(
        "tree_shap", model.signature.input_names, phi, expected, scores, predicted, name, labels
    )


def _multi_output(outputs: int) -> InvalidInput:
    return InvalidInput(
        f"this model predicts {outputs} values per row; explanations cover one output",
        hint="register one model per target to explain it",
    )


def _labels(model: LoadedModel) -> list[str] | None:
    if model.task in _CLASSIFIERS and model.classes:
        return [str(c) for c in model.classes]
    return None


def _score_name(model: LoadedModel, frame: pd.DataFrame, scores: np.ndarray) -> str:
    """What a single score is: the value itself, its log1p, or another raw score (a log link)."""
    import numpy as np

    if model.flavor == "ensemble":
        return "log1p_value" if model.native.target_transform == "log1p" else "value"
    values = np.asarray(model.predict(frame), dtype="float64").reshape(-1)
    return "value" if np.allclose(values, scores[:, 0], rtol=1e-6, atol=1e-6) else "raw_score"


# -- sampled Shapley ----------------------------------------------------------------------------


def sampled_shapley(
    model: LoadedModel,
    data: Any,
    baseline: Mapping[str, Any],
    *,
    path_count: int = DEFAULT_PATH_COUNT,
    seed: int = 0,
) -> Attributions:
    """Sampled Shapley attributions against one baseline instance (see the module docstring).

    The same `path_count` random column orders (drawn from `seed`) serve every instance, so an
    instance gets the same attributions alone or in a batch."""
    import numpy as np
    import pandas as pd

    check_path_count(path_count)
    names = model.signature.input_names
    x_frame = model.signature.prepare(data, categorical=False)
    check_cost(len(x_frame), len(names), path_count)
    b_frame = model.signature.prepare(pd.DataFrame([dict(baseline)]), categorical=False)
    space = _space(model)
    xs, bs = space.encode(x_frame), space.encode(b_frame)
    out_x, out_b = space.outputs(xs), space.outputs(bs)  # (n, K), (1, K)
    n, d = len(x_frame), len(names)
    k = out_x.shape[1]
    orders, units = _orders(d, path_count, seed)  # (P, d), (P,)
    position = np.argsort(orders, axis=1)  # position[p, j]: when feature j switches
    # mask[p, s, j]: at step s of path p feature j already holds the instance's value.
    steps = np.arange(1, d)  # steps 0 (baseline) and d (instance) are known
    mask = position[:, None, :] < steps[None, :, None]  # (P, d-1, d)
    count = int(units.max()) + 1
    values = np.empty((n, k, d))
    # The spread of independent units (antithetic pairs) estimates the standard error.
    error = np.empty((n, k)) if count > 1 else None
    per_row = path_count * max(d - 1, 1)
    chunk = max(1, _CHUNK_ROWS // per_row)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        m = stop - start
        inner = (
            space.outputs(space.mix(xs, bs, mask, start, stop)).reshape(m, path_count, d - 1, k)
            if d > 1
            else np.empty((m, path_count, 0, k))
        )
        first = np.broadcast_to(out_b[None, None, :, :], (m, path_count, 1, k))
        last = np.broadcast_to(out_x[start:stop, None, None, :], (m, path_count, 1, k))
        path = np.concatenate([first, inner, last], axis=2)  # (m, P, d+1, K)
        gains = np.diff(path, axis=2)  # gains[..., t, :]: the t-th feature of the order
        gains = np.moveaxis(gains, 3, 2)  # (m, P, K, d) in order position
        # Each chunk holds every path of its rows: reduce them here, keep only the results.
        samples = np.take_along_axis(gains, position[None, :, None, :], axis=3)
        values[start:stop] = samples.mean(axis=1)  # (m, K, d)
        if error is not None:
            per_unit = np.stack([samples[:, units == u].mean(axis=1) for u in range(count)], 1)
            stderr = per_unit.std(axis=1, ddof=1) / np.sqrt(count)
            norm = np.abs(values[start:stop]).sum(axis=2)
            spread = np.sqrt((stderr**2).sum(axis=2))
            error[start:stop] = np.divide(spread, norm, out=np.zeros_like(spread), where=norm > 0)
    labels = _labels(model)
    return Attributions(
        "sampled_shapley",
        names,
        values,
        np.broadcast_to(out_b, (n, k)).copy(),
        out_x,
        out_x.argmax(axis=1) if labels is not None else np.zeros(n, dtype=int),
        "scores" if labels is not None else "value",
        labels,
        error,
    )


def _orders(d: int, path_count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`path_count` feature orders: random ones, each with its reverse (antithetic pairs: a
    feature early in one is late in the other, which cancels much of the sampling noise), and
    the independent unit each order belongs to."""
    import numpy as np

    rng = np.random.default_rng(seed)
    half = path_count // 2
    drawn = [rng.permutation(d) for _ in range(half + path_count % 2)]
    orders = [*drawn[:half], *(o[::-1] for o in drawn[:half]), *drawn[half:]]
    units = [*range(half), *range(half), *range(half, len(drawn))]
    return np.stack(orders), np.asarray(units)


class _Space:
    """How instances are encoded, mixed with the baseline and scored (the value function)."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.names = model.signature.input_names

    def encode(self, frame: pd.DataFrame) -> Any:
        """The instances as the value function takes them (here: the checked frame)."""
        return frame

    def mix(self, xs: Any, bs: Any, mask: np.ndarray, start: int, stop: int) -> Any:
        """Rows (instance, path, step) with the masked columns from the instance."""
        import numpy as np
        import pandas as pd

        cols = {
            c: np.where(
                mask[None, :, :, j], xs[c].to_numpy()[start:stop, None, None], bs[c].iloc[0]
            ).reshape(-1)
            for j, c in enumerate(self.names)
        }
        return pd.DataFrame(cols)

    def outputs(self, rows: Any) -> np.ndarray:
        """Class probabilities (rows × classes) or values (rows × 1)."""
        import numpy as np

        if self.model.task in _CLASSIFIERS:
            return np.asarray(self.model.predict_proba(rows), dtype="float64")
        values = np.asarray(self.model.predict(rows), dtype="float64").reshape(len(rows), -1)
        if values.shape[1] != 1:
            raise _multi_output(values.shape[1])
        return values


class _MatrixSpace(_Space):
    """An ensemble mixes in its feature matrix: each input column owns a block of matrix columns
    made from it alone, so mixing blocks is mixing columns, without re-encoding text."""

    def __init__(self, model: LoadedModel) -> None:
        import numpy as np

        super().__init__(model)
        where = {c: j for j, c in enumerate(self.names)}
        self.owner = np.asarray([where[s] for s in model.native.transform.source_column()])

    def encode(self, frame: pd.DataFrame) -> Any:
        return self.model.native.matrix(frame)

    def mix(self, xs: Any, bs: Any, mask: np.ndarray, start: int, stop: int) -> Any:
        import numpy as np

        cols = mask[:, :, self.owner]  # (P, d-1, p)
        rows = np.where(cols[None], xs[start:stop, None, None, :], bs[0][None, None, None, :])
        return rows.reshape(-1, xs.shape[1])

    def outputs(self, rows: Any) -> np.ndarray:
        import numpy as np

        from pmle.models.ensemble import link

        ens = self.model.native
        scores = ens.scores(rows)
        if ens.task in _CLASSIFIERS:
            return np.asarray(link(scores, ens.task), dtype="float64")
        if ens.target_transform == "log1p":
            scores = np.expm1(scores)
        return np.asarray(scores, dtype="float64").reshape(-1, 1)


def _space(model: LoadedModel) -> _Space:
    return _MatrixSpace(model) if model.flavor == "ensemble" else _Space(model)


__all__ = [
    "DEFAULT_PATH_COUNT",
    "MAX_EVALUATIONS",
    "MAX_PATH_COUNT",
    "METHODS",
    "Attributions",
    "Explanation",
    "baseline_instance",
    "check_cost",
    "check_path_count",
    "exact_available",
    "linear_term_means",
    "needs_linear_means",
    "resolve_method",
    "sampled_shapley",
    "shapley_rows",
    "tree_shap",
]
