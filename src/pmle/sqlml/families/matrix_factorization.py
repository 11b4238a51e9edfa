"""MATRIX_FACTORIZATION: recommendations from user-item ratings, as BigQuery ML makes them.

The training query holds `user_col` (default 'user'), `item_col` ('item') and `rating_col`
('rating'). EXPLICIT feedback (default) fits rating ≈ mean + user intercept + item intercept +
user factors · item factors by alternating least squares; IMPLICIT feedback fits the weighted
ALS of Hu, Koren & Volinsky (preference 1 where rated, confidence 1 + `wals_alpha` · rating,
over every user-item pair). `num_factors` defaults to log2(n) rounded, at least 2 (n: training
rows), `l2_reg` to 1.0 (on factors and intercepts), `max_iterations` to 20 with `early_stop` at
`min_rel_progress` 0.01. Each half step solves every user's (or item's) regularised least
squares exactly, in one batch (pure NumPy / SciPy sparse), so the objective never rises.

ML.RECOMMEND (and ML.PREDICT for user-item pairs) gives `predicted_<rating_col>` (explicit)
or `predicted_<rating_col>_confidence` (implicit); ML.WEIGHTS the factors and intercepts;
ML.EVALUATE regression metrics (explicit) or ranking metrics (implicit).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.families.common import Fitted, python_value

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.sqlml.functions import CallArgs
    from pmle.sqlml.model import SqlModel
    from pmle.sqlml.options import Options

__all__ = [
    "ML_PREDICT",
    "ML_RECOMMEND",
    "ML_WEIGHTS",
    "MatrixFactorization",
    "als",
    "evaluate",
    "fit",
    "load",
]

FILE = "matrix_factorization.npz"
SEED = 0


@dataclass
class MatrixFactorization:
    """User and item factors (with intercepts for explicit feedback) over known ids."""

    user_col: str
    item_col: str
    rating_col: str
    implicit: bool
    users: list[Any]
    items: list[Any]
    user_factors: np.ndarray  # users × k
    item_factors: np.ndarray  # items × k
    user_bias: np.ndarray
    item_bias: np.ndarray
    mean: float

    @property
    def output(self) -> str:
        """The prediction column's name."""
        suffix = "_confidence" if self.implicit else ""
        return f"predicted_{self.rating_col}{suffix}"

    def _index(self, values: Any, known: list[Any]) -> np.ndarray:
        import numpy as np

        lookup = {_key(v): i for i, v in enumerate(known)}
        return np.array([lookup.get(_key(v), -1) for v in values], dtype="int64")

    def scores(self, users: Any, items: Any) -> np.ndarray:
        """Predictions for user-item pairs (NaN where either is unknown)."""
        import numpy as np

        u = self._index(users, self.users)
        i = self._index(items, self.items)
        out = np.full(len(u), np.nan)
        ok = (u >= 0) & (i >= 0)
        uu, ii = u[ok], i[ok]
        value = np.einsum("ij,ij->i", self.user_factors[uu], self.item_factors[ii])
        if not self.implicit:
            value = value + self.mean + self.user_bias[uu] + self.item_bias[ii]
        out[ok] = value
        return out

    def predict_output(self, frame: pd.DataFrame, label: str | None) -> pd.DataFrame:
        import pandas as pd

        _need(frame, [self.user_col, self.item_col], "ML.PREDICT")
        values = self.scores(frame[self.user_col], frame[self.item_col])
        return pd.DataFrame({self.output: values}, index=frame.index)

    def save(self, directory: Path) -> dict[str, Any]:
        import numpy as np

        np.savez(
            directory / FILE,
            user_factors=self.user_factors,
            item_factors=self.item_factors,
            user_bias=self.user_bias,
            item_bias=self.item_bias,
        )
        return {
            "user_col": self.user_col,
            "item_col": self.item_col,
            "rating_col": self.rating_col,
            "implicit": self.implicit,
            "users": self.users,
            "items": self.items,
            "mean": self.mean,
        }


def load(directory: Path, state: dict[str, Any]) -> MatrixFactorization:
    """A MatrixFactorization written by `save`."""
    import numpy as np

    with np.load(directory / FILE, allow_pickle=False) as data:
        a = {k: data[k] for k in ("user_factors", "item_factors", "user_bias", "item_bias")}
    return MatrixFactorization(
        state["user_col"],
        state["item_col"],
        state["rating_col"],
        bool(state["implicit"]),
        list(state["users"]),
        list(state["items"]),
        a["user_factors"],
        a["item_factors"],
        a["user_bias"],
        a["item_bias"],
        float(state["mean"]),
    )


def _key(value: Any) -> Any:
    """Ids compare by value whatever their NumPy / Python type (1 == 1.0 == np.int64(1))."""
    value = python_value(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _need(frame: pd.DataFrame, columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"{where} needs the column(s) {', '.join(missing)}",
            hint=f"columns: {', '.join(map(str, frame.columns))}",
        )


# ---- alternating least squares ---------------------------------------------------------------


def _grams(indicator: Any, factors: np.ndarray) -> np.ndarray:
    """Per row of the sparse `indicator` (rows × cols, values w): Σ w · f fᵀ over its cols."""
    k = factors.shape[1]
    outer = (factors[:, :, None] * factors[:, None, :]).reshape(len(factors), k * k)
    return (indicator @ outer).reshape(-1, k, k)


def _solve(gram: np.ndarray, rhs: np.ndarray, l2: float) -> np.ndarray:
    import numpy as np

    k = gram.shape[-1]
    return np.linalg.solve(gram + l2 * np.eye(k), rhs[..., None])[..., 0]


def _explicit_step(
    rows: np.ndarray,
    cols: np.ndarray,
    target: np.ndarray,
    n_rows: int,
    other: np.ndarray,
    other_bias: np.ndarray,
    l2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (factors, intercept) minimising Σ (target - mean... residual)² + l2 |·|²,
    given the other side's factors and intercepts."""
    import numpy as np
    from scipy import sparse

    design = np.hstack([other, np.ones((len(other), 1))])
    ones = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, len(other)))
    residual = target - other_bias[cols]
    weighted = sparse.csr_matrix((residual, (rows, cols)), shape=(n_rows, len(other)))
    solution = _solve(_grams(ones, design), np.asarray(weighted @ design), l2)
    return solution[:, :-1], solution[:, -1]


def _implicit_step(
    rows: np.ndarray,
    cols: np.ndarray,
    rating: np.ndarray,
    n_rows: int,
    other: np.ndarray,
    l2: float,
    alpha: float,
) -> np.ndarray:
    """Hu et al.'s exact update: (YᵀY + Yᵀ(Cᵤ - I)Y + l2 I) xᵤ = Yᵀ Cᵤ pᵤ."""
    import numpy as np
    from scipy import sparse

    shape = (n_rows, len(other))
    pref = (rating > 0).astype("float64")
    extra = sparse.csr_matrix((alpha * rating, (rows, cols)), shape=shape)
    conf_pref = sparse.csr_matrix(((1.0 + alpha * rating) * pref, (rows, cols)), shape=shape)
    gram = other.T @ other + _grams(extra, other)
    return _solve(gram, np.asarray(conf_pref @ other), l2)


def _objective(
    est: MatrixFactorization,
    rows: np.ndarray,
    cols: np.ndarray,
    rating: np.ndarray,
    l2: float,
    alpha: float,
) -> float:
    """The regularised loss ALS minimises."""
    import numpy as np

    p, q = est.user_factors, est.item_factors
    dot = np.einsum("ij,ij->i", p[rows], q[cols])
    penalty = l2 * (np.sum(p**2) + np.sum(q**2))
    if est.implicit:
        pref = (rating > 0).astype("float64")
        conf = 1.0 + alpha * rating
        everything = float(np.sum((p.T @ p) * (q.T @ q)))  # Σ over all pairs of (x·y)²
        observed = float(np.sum(conf * (pref - dot) ** 2 - dot**2))
        return everything + observed + penalty
    pred = est.mean + est.user_bias[rows] + est.item_bias[cols] + dot
    penalty += l2 * (np.sum(est.user_bias**2) + np.sum(est.item_bias**2))
    return float(np.sum((rating - pred) ** 2) + penalty)


def als(
    rows: np.ndarray,
    cols: np.ndarray,
    rating: np.ndarray,
    shape: tuple[int, int],
    *,
    factors: int,
    l2: float,
    implicit: bool = False,
    alpha: float = 40.0,
    max_iterations: int = 20,
    early_stop: bool = True,
    min_rel_progress: float = 0.01,
) -> tuple[dict[str, Any], list[float]]:
    """Alternating least squares on ratings at (rows, cols); the fitted arrays and the
    objective after each iteration (a user step then an item step)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    n_users, n_items = shape
    p = rng.normal(scale=0.1, size=(n_users, factors))
    q = rng.normal(scale=0.1, size=(n_items, factors))
    ub, ib = np.zeros(n_users), np.zeros(n_items)
    mean = 0.0 if implicit else float(rating.mean())
    est = MatrixFactorization("", "", "", implicit, [], [], p, q, ub, ib, mean)
    losses: list[float] = []
    for _ in range(max_iterations):
        if implicit:
            est.user_factors = _implicit_step(
                rows, cols, rating, n_users, est.item_factors, l2, alpha
            )
            est.item_factors = _implicit_step(
                cols, rows, rating, n_items, est.user_factors, l2, alpha
            )
        else:
            est.user_factors, est.user_bias = _explicit_step(
                rows, cols, rating - mean, n_users, est.item_factors, est.item_bias, l2
            )
            est.item_factors, est.item_bias = _explicit_step(
                cols, rows, rating - mean, n_items, est.user_factors, est.user_bias, l2
            )
        losses.append(_objective(est, rows, cols, rating, l2, alpha))
        before = losses[-2] if len(losses) > 1 else 0.0
        if early_stop and before > 0 and (before - losses[-1]) / before < min_rel_progress:
            break
    arrays = {
        "user_factors": est.user_factors,
        "item_factors": est.item_factors,
        "user_bias": est.user_bias,
        "item_bias": est.item_bias,
        "mean": mean,
    }
    return arrays, losses


def fit(
    train: pd.DataFrame,
    evaluation: pd.DataFrame | None,
    options: Options,
    label: str | None,
    features: list[str],
) -> Fitted:
    """Factorise the ratings of the training query."""
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    user_col = options.get("user_col", "user")
    item_col = options.get("item_col", "item")
    rating_col = options.get("rating_col", "rating")
    _need(train, [user_col, item_col, rating_col], "MATRIX_FACTORIZATION's training query")
    data = train[[user_col, item_col, rating_col]].dropna()
    if data.empty:
        raise InvalidInput("MATRIX_FACTORIZATION's training query has no complete ratings")
    rating = pd.to_numeric(data[rating_col], errors="coerce").to_numpy(dtype="float64")
    if np.isnan(rating).any():
        raise InvalidInput(f"rating_col {rating_col!r} must be numeric")
    user_codes, users = pd.factorize(data[user_col], sort=True)
    item_codes, items = pd.factorize(data[item_col], sort=True)
    implicit = options.get("feedback_type", "EXPLICIT") == "IMPLICIT"
    n = len(data)
    k = int(options.get("num_factors") or max(2, round(math.log2(max(n, 2)))))
    l2 = float(options.get("l2_reg", 1.0))
    alpha = float(options.get("wals_alpha", 40.0))
    arrays, losses = als(
        user_codes,
        item_codes,
        rating,
        (len(users), len(items)),
        factors=k,
        l2=l2,
        implicit=implicit,
        alpha=alpha,
        max_iterations=int(options.get("max_iterations", 20)),
        early_stop=bool(options.get("early_stop", True)),
        min_rel_progress=float(options.get("min_rel_progress", 0.01)),
    )
    est = MatrixFactorization(
        user_col,
        item_col,
        rating_col,
        implicit,
        [_key(u) for u in users],
        [_key(i) for i in items],
        arrays["user_factors"],
        arrays["item_factors"],
        arrays["user_bias"],
        arrays["item_bias"],
        arrays["mean"],
    )
    elapsed = int((time.perf_counter() - started) * 1000)
    info = [
        {
            "training_run": 0,
            "iteration": i,
            "loss": loss / n,
            "eval_loss": None,
            "learning_rate": None,
            "duration_ms": elapsed,
        }
        for i, loss in enumerate(losses)
    ]
    extra = {"num_factors": k, "users": len(users), "items": len(items)}
    return Fitted(est, None, info, extra)


# ---- evaluation ------------------------------------------------------------------------------


def evaluate(
    estimator: MatrixFactorization, frame: pd.DataFrame, label: str | None, options: Options
) -> dict[str, Any]:
    """Regression metrics of the predicted ratings (explicit), or ranking metrics of each
    user's rated items among all items (implicit)."""
    import numpy as np

    from pmle.sqlml import metrics

    est = estimator
    _need(frame, [est.user_col, est.item_col, est.rating_col], "ML.EVALUATE")
    data = frame[[est.user_col, est.item_col, est.rating_col]].dropna()
    rating = data[est.rating_col].to_numpy(dtype="float64")
    pred = est.scores(data[est.user_col], data[est.item_col])
    known = ~np.isnan(pred)
    if not known.any():
        raise InvalidInput("none of the evaluation rows has a user and an item the model knows")
    if not est.implicit:
        return {"metrics": metrics.regression_metrics(rating[known], pred[known])}
    return {"metrics": _ranking_metrics(est, data[known], rating[known], pred[known])}


def _ranking_metrics(
    est: MatrixFactorization, data: pd.DataFrame, rating: np.ndarray, pred: np.ndarray
) -> dict[str, float]:
    import numpy as np

    users = est._index(data[est.user_col], est.users)
    items = est._index(data[est.item_col], est.items)
    every = est.user_factors @ est.item_factors.T  # users × items
    n_items = every.shape[1]
    ap, ndcg, rank_num, rank_den = [], [], 0.0, 0.0
    for u in np.unique(users):
        mine = users == u
        order = np.argsort(-every[u], kind="stable")
        position = np.empty(n_items, dtype="int64")
        position[order] = np.arange(n_items)
        pos = position[items[mine]]
        gains = rating[mine]
        relevant = np.sort(pos[gains > 0])
        if len(relevant):
            ap.append(float(np.mean((np.arange(len(relevant)) + 1) / (relevant + 1))))
            dcg = float(np.sum(gains / np.log2(pos + 2)))
            ideal = np.sort(gains)[::-1]
            idcg = float(np.sum(ideal / np.log2(np.arange(len(ideal)) + 2)))
            ndcg.append(dcg / idcg if idcg > 0 else 0.0)
        rank_num += float(np.sum(gains * pos / max(n_items - 1, 1)))
        rank_den += float(np.sum(gains))
    pref = (rating > 0).astype("float64")
    return {
        "mean_average_precision": float(np.mean(ap)) if ap else float("nan"),
        "mean_squared_error": float(np.mean((pref - pred) ** 2)),
        "normalized_discounted_cumulative_gain": float(np.mean(ndcg)) if ndcg else float("nan"),
        "average_rank": rank_num / rank_den if rank_den > 0 else float("nan"),
    }


# ---- table functions -------------------------------------------------------------------------


def _pairs(est: MatrixFactorization, rows: pd.DataFrame | None) -> pd.DataFrame:
    """The user-item pairs ML.RECOMMEND scores: every pair, the given pairs (other columns
    passed through), or every item for the given users (every user for the given items)."""
    import numpy as np
    import pandas as pd

    if rows is None:
        users = np.repeat(np.array(est.users, dtype=object), len(est.items))
        items = np.tile(np.array(est.items, dtype=object), len(est.users))
        return pd.DataFrame({est.user_col: users, est.item_col: items})
    has_user, has_item = est.user_col in rows.columns, est.item_col in rows.columns
    if has_user and has_item:
        return rows
    if len(rows.columns) != 1 or not (has_user or has_item):
        raise InvalidInput(
            f"ML.RECOMMEND's rows hold both {est.user_col!r} and {est.item_col!r}, "
            "or only one of them",
            hint=f"columns given: {', '.join(map(str, rows.columns))}",
        )
    given = rows.iloc[:, 0].drop_duplicates().to_numpy(dtype=object)
    other = np.array(est.items if has_user else est.users, dtype=object)
    first = np.repeat(given, len(other))
    second = np.tile(other, len(given))
    if has_user:
        return pd.DataFrame({est.user_col: first, est.item_col: second})
    return pd.DataFrame({est.user_col: second, est.item_col: first})


def ML_RECOMMEND(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """Predicted ratings (or confidences) for every user-item pair, or for the given rows."""
    import pandas as pd

    est: MatrixFactorization = model.estimator
    pairs = _pairs(est, args.rows)
    values = est.scores(pairs[est.user_col], pairs[est.item_col])
    first = pd.DataFrame({est.output: values}, index=pairs.index)
    ordered = [est.user_col, est.item_col] + [
        c for c in pairs.columns if c not in {est.user_col, est.item_col, est.output}
    ]
    return pd.concat([first, pairs[ordered]], axis=1)


def ML_PREDICT(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """ML.RECOMMEND for the given user-item rows."""
    est: MatrixFactorization = model.estimator
    if args.rows is None:
        raise InvalidInput("ML.PREDICT needs user-item rows; ML.RECOMMEND scores every pair")
    _need(args.rows, [est.user_col, est.item_col], "ML.PREDICT")
    return ML_RECOMMEND(model, args)


def ML_WEIGHTS(model: SqlModel, args: CallArgs) -> pd.DataFrame:
    """processed_input (the user or item column), feature (the id), factor_weights
    ([{factor, weight}]) and intercept."""
    import pandas as pd

    est: MatrixFactorization = model.estimator
    rows: list[dict[str, Any]] = []
    sides = [
        (est.user_col, est.users, est.user_factors, est.user_bias),
        (est.item_col, est.items, est.item_factors, est.item_bias),
    ]
    for column, ids, factors, bias in sides:
        for i, value in enumerate(ids):
            rows.append(
                {
                    "processed_input": column,
                    "feature": str(value),
                    "factor_weights": [
                        {"factor": f + 1, "weight": float(w)} for f, w in enumerate(factors[i])
                    ],
                    "intercept": None if est.implicit else float(bias[i]),
                }
            )
    return pd.DataFrame(rows, columns=["processed_input", "feature", "factor_weights", "intercept"])
