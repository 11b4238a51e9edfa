"""What BOOSTED_TREE_* and RANDOM_FOREST_* share: a LightGBM booster over label-encoded
features (:class:`TreeEstimator`), trained round by round with BigQuery ML's early stop and
training curve (:func:`train`), saved as LightGBM's model text.

BigQuery ML trains both with XGBoost; pmle maps their options onto LightGBM's equivalents
(see :func:`common_params`). LightGBM grows trees leaf-wise: a depth limit `d` with
`num_leaves = 2**d` grows the same depth-limited trees XGBoost grows level-wise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.encoding import LabelCodes, label_codes
from pmle.sqlml.families.common import Fitted, class_labels, class_weight, probs_column

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.options import Options

__all__ = [
    "TreeEstimator",
    "common_params",
    "label_codes",
    "load",
    "row_weights",
    "sampling_params",
    "train",
]

FILE = "trees.txt"
#: LightGBM's largest num_leaves.
MAX_LEAVES = 131_072
#: Tables up to this many rows train on one thread.
SMALL_ROWS = 20_000


@dataclass
class TreeEstimator:
    """A LightGBM booster over :class:`LabelCodes`-encoded features."""

    encoding: LabelCodes
    booster: Any  # lightgbm.Booster
    classes: list[Any] | None = None

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The encoded feature matrix (float64, NaN for missing)."""
        return self.encoding.matrix(frame)

    def raw_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """Raw scores (rows × 1, or rows × classes for multiclass): log-odds or values."""
        import numpy as np

        x = self.matrix(frame)
        out = np.asarray(self.booster.predict(x, raw_score=True), dtype="float64")
        return out.reshape(len(x), -1)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        proba = np.asarray(self.booster.predict(self.matrix(frame)), dtype="float64")
        if proba.ndim == 1:  # binary: the second class's probability
            return np.column_stack([1.0 - proba, proba])
        return proba

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        name = f"predicted_{label}"
        if self.classes is None:
            values = np.asarray(self.booster.predict(self.matrix(frame)), dtype="float64")
            return pd.DataFrame({name: values}, index=frame.index)
        proba = self.predict_proba(frame)
        labels = [self.classes[i] for i in np.argmax(proba, axis=1)]
        return pd.DataFrame(
            {name: labels, f"{name}_probs": probs_column(proba, self.classes)}, index=frame.index
        )

    def contributions(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact TreeSHAP (LightGBM's `pred_contrib`) in raw-score space: attributions
        (rows, scores, features), expected score (rows, scores) and score (rows, scores)."""
        import numpy as np

        from pmle.monitoring.tree_shap import lightgbm_facts

        x = self.matrix(frame)
        n = len(x)
        k = len(self.classes) if self.classes is not None and len(self.classes) > 2 else 1
        contrib = np.asarray(self.booster.predict(x, pred_contrib=True), dtype="float64")
        if lightgbm_facts(self.booster).averaged:
            # a random forest predicts the mean of its trees; pred_contrib sums them
            contrib = contrib / self.booster.current_iteration()
        c = contrib.reshape(n, k, -1)
        phi, bias = c[:, :, :-1], c[:, :, -1]
        return phi, bias, phi.sum(axis=2) + bias

    def importance(self) -> list[dict[str, Any]]:
        """ML.FEATURE_IMPORTANCE rows: splits on each feature (`importance_weight`), their
        mean gain (`importance_gain`, in XGBoost's units: half LightGBM's split gain) and mean
        hessian cover (`importance_cover`)."""
        import numpy as np

        names = self.encoding.columns
        splits = np.zeros(len(names))
        gain = np.zeros(len(names))
        cover = np.zeros(len(names))
        stack = [t["tree_structure"] for t in self.booster.dump_model()["tree_info"]]
        while stack:
            node = stack.pop()
            if "split_feature" not in node:
                continue
            j = int(node["split_feature"])
            splits[j] += 1
            gain[j] += float(node.get("split_gain", 0.0)) / 2.0
            cover[j] += float(node.get("internal_weight", 0.0))
            stack.extend([node["left_child"], node["right_child"]])
        rows = []
        for j, name in enumerate(names):
            used = splits[j]
            rows.append(
                {
                    "feature": name,
                    "importance_weight": int(used),
                    "importance_gain": float(gain[j] / used) if used else 0.0,
                    "importance_cover": float(cover[j] / used) if used else 0.0,
                }
            )
        return sorted(rows, key=lambda r: -r["importance_gain"])

    def save(self, directory: Path) -> dict[str, Any]:
        (directory / FILE).write_text(self.booster.model_to_string(), encoding="utf-8")
        return {"encoding": self.encoding.to_dict(), "classes": self.classes}


def load(directory: Path, state: dict[str, Any]) -> TreeEstimator:
    """A TreeEstimator written by `save` (LightGBM's model text; no pickle)."""
    import lightgbm as lgb

    try:
        booster = lgb.Booster(model_str=(directory / FILE).read_text(encoding="utf-8"))
    except (OSError, lgb.basic.LightGBMError) as exc:
        raise InvalidInput(f"cannot read the tree model in {directory}: {exc}") from exc
    return TreeEstimator(LabelCodes.from_dict(state["encoding"]), booster, state.get("classes"))


def row_weights(options: Options, classes: list[Any], codes: np.ndarray) -> np.ndarray | None:
    """Per-row weights from `auto_class_weights` (n / (classes × count), scikit-learn's
    "balanced") or `class_weights` (unnamed classes weigh 1)."""
    import numpy as np

    spec = class_weight(options, classes)
    if spec is None:
        return None
    if spec == "balanced":
        counts = np.bincount(codes, minlength=len(classes)).astype("float64")
        per_class = len(codes) / (len(classes) * np.maximum(counts, 1.0))
    else:
        assert isinstance(spec, dict)
        per_class = np.array([spec.get(i, 1.0) for i in range(len(classes))], dtype="float64")
    return per_class[codes]


def common_params(
    options: Options, depth: int, classes: list[Any] | None, rows: int
) -> dict[str, Any]:
    """LightGBM parameters of the options both tree families take (XGBoost's meaning):

    - `max_tree_depth` → `max_depth`, `num_leaves = 2**depth` (depth-limited trees; at most
      one leaf per training row, which a tree cannot exceed anyway, so that LightGBM does not
      allocate histograms for leaves that cannot exist)
    - `l1_reg` / `l2_reg` → `lambda_l1` / `lambda_l2` (the same penalties on leaf values)
    - `min_tree_child_weight` → `min_sum_hessian_in_leaf` (XGBoost has no row-count limit:
      `min_data_in_leaf` is 1)
    - `subsample` → `bagging_fraction` (resampled every round)
    - `colsample_bytree × colsample_bylevel` → `feature_fraction` (leaf-wise trees have no
      levels), `colsample_bynode` → `feature_fraction_bynode`
    - `min_split_loss` (XGBoost's gamma) → `min_gain_to_split = 2 × gamma` (LightGBM's
      split gain has no ½ factor)
    """
    # tree_method is accepted and has no counterpart: LightGBM always bins (XGBoost's HIST)
    params: dict[str, Any] = {
        "max_depth": depth,
        "num_leaves": max(2, min(2**depth, MAX_LEAVES, rows)),
        "lambda_l1": float(options.get("l1_reg", 0.0)),
        "lambda_l2": float(options.get("l2_reg", 1.0)),
        "min_sum_hessian_in_leaf": float(options.get("min_tree_child_weight", 1.0)),
        "min_data_in_leaf": 1,
        "min_gain_to_split": 2.0 * float(options.get("min_split_loss", 0.0)),
        "verbose": -1,
        "seed": 0,
        "deterministic": True,
        "force_col_wise": True,
        # threads cost more than they save on small tables (measured: 5x slower on 342 rows)
        "num_threads": 1 if rows < SMALL_ROWS else 0,
    }
    if classes is None:
        params["objective"] = "regression"
        params["metric"] = "l2"
    elif len(classes) == 2:
        params["objective"] = "binary"
        params["metric"] = "binary_logloss"
    else:
        params["objective"] = "multiclass"
        params["num_class"] = len(classes)
        params["metric"] = "multi_logloss"
    return params


def sampling_params(options: Options, subsample: float, bynode: float) -> dict[str, Any]:
    """Row and column sampling (defaults differ between the families)."""
    bytree = float(options.get("colsample_bytree", 1.0)) * float(
        options.get("colsample_bylevel", 1.0)
    )
    params: dict[str, Any] = {
        "bagging_fraction": subsample,
        "bagging_freq": 1 if subsample < 1.0 else 0,
        "feature_fraction": bytree,
        "feature_fraction_bynode": bynode,
    }
    for name, value in (("subsample", subsample), ("colsample_bynode", bynode)):
        if value <= 0.0:
            raise InvalidInput(f"option {name!r} must be above 0, got {value}")
    if bytree <= 0.0:
        raise InvalidInput("options colsample_bytree and colsample_bylevel must be above 0")
    return params


def train(
    train_rows: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str,
    features: list[str],
    params: dict[str, Any],
    rounds: int,
    *,
    early_stop: bool,
) -> Fitted:
    """Train `rounds` rounds (stopping early as BigQuery ML does: when a round improves the
    loss by less than `min_rel_progress` of the previous loss, on the evaluation rows when
    there are some, else on the training rows) and record the curve per round."""
    import lightgbm as lgb

    started = time.perf_counter()
    encoding = LabelCodes.fit(train_rows, features)
    classes = class_labels(train_rows[label], options.model_type) if options.classifier else None
    x = encoding.matrix(train_rows)
    weight = None
    if classes is not None:
        y = label_codes(train_rows[label], classes)
        weight = row_weights(options, classes, y)
    else:
        y = train_rows[label].astype("float64").to_numpy()
    data = lgb.Dataset(x, y, weight=weight, free_raw_data=False, params={"verbose": -1})
    valid_sets, names = [data], ["training"]
    if evaluation is not None:
        ex = encoding.matrix(evaluation)
        if classes is not None:
            ey = label_codes(evaluation[label], classes)
            keep = ey >= 0  # labels unseen in training cannot be scored
            ex, ey = ex[keep], ey[keep]
            ew = row_weights(options, classes, ey)
            valid = lgb.Dataset(ex, ey, weight=ew, reference=data)
        else:
            valid = lgb.Dataset(ex, evaluation[label].astype("float64").to_numpy(), reference=data)
        valid_sets.append(valid)
        names.append("evaluation")
    curve: list[dict[str, Any]] = []
    min_rel = float(options.get("min_rel_progress", 0.01))
    watched = "evaluation" if evaluation is not None else "training"

    class Record:
        order = 30  # LightGBM sorts callbacks by `order`

        def __call__(self, env: Any) -> None:
            record(env)

    def record(env: Any) -> None:
        losses = {name: value for name, _, value, _ in env.evaluation_result_list}
        curve.append(
            {
                "training_run": 0,
                "iteration": env.iteration,
                "loss": float(losses["training"]),
                "eval_loss": float(losses["evaluation"]) if "evaluation" in losses else None,
                "learning_rate": params.get("learning_rate"),
                "duration_ms": int((time.perf_counter() - started) * 1000),
            }
        )
        if early_stop and len(curve) > 1:
            key = "eval_loss" if watched == "evaluation" else "loss"
            before, now = curve[-2][key], curve[-1][key]
            if before > 0 and (before - now) / before < min_rel:
                raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    try:
        booster = lgb.train(
            params,
            data,
            num_boost_round=rounds,
            valid_sets=valid_sets,
            valid_names=names,
            callbacks=[Record()],
        )
    except lgb.basic.LightGBMError as exc:
        raise InvalidInput(f"LightGBM cannot train this {options.model_type}: {exc}") from exc
    return Fitted(TreeEstimator(encoding, booster, classes), classes, curve)
