"""Exact TreeSHAP contributions, from the tree libraries themselves, in the model's score space.

LightGBM (`pred_contrib`), XGBoost (`pred_contribs`) and the members of an ensemble — LightGBM,
CatBoost (`ShapValues`) and linear members, whose exact attribution for independent inputs is
`coef · (term − mean term)`. Ensemble members are combined with their weights (they are
averaged in score space, so their attributions are too), and the columns of the feature matrix
are summed back into the input column each was made from. See
:func:`pmle.monitoring.attributions.tree_shap`.

LightGBM random forests (`boosting=rf`) predict the *average* of their trees while
`pred_contrib` and raw scores are sums over them: both are divided by the number of iterations.
LightGBM's linear trees have no TreeSHAP (`lightgbm_facts` tells them apart).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.models.format import LoadedModel


#: Libraries whose own errors (a model they cannot explain) are the caller's to fix.
_LIBRARIES = ("lightgbm", "xgboost", "catboost", "_catboost")


class LightGBMFacts(NamedTuple):
    """What TreeSHAP needs to know about a LightGBM booster."""

    linear: bool  # linear trees: LightGBM has no pred_contrib for them
    averaged: bool  # boosting=rf: predictions average the trees (`average_output`)


_FACTS: weakref.WeakKeyDictionary[Any, LightGBMFacts] = weakref.WeakKeyDictionary()


def lightgbm_facts(booster: Any) -> LightGBMFacts:
    """Linear trees / averaged output, read from the model text's header and first tree."""
    try:
        return _FACTS[booster]
    except (KeyError, TypeError):
        pass
    head = booster.model_to_string(num_iteration=1)
    header = head.split("\nTree=", 1)[0]
    facts = LightGBMFacts(
        linear="is_linear=1" in head or "[linear_tree: 1]" in head,
        averaged="\naverage_output\n" in header,
    )
    try:
        _FACTS[booster] = facts
    except TypeError:  # not weak-referenceable: recomputed next time (it is cheap)
        pass
    return facts


def contributions(
    model: LoadedModel, frame: pd.DataFrame, linear_means: Mapping[str, list[float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attributions (rows, scores, input columns), expected scores (rows, scores) and scores
    (rows, scores) of a checked frame; one score for binary classifiers and regressors.

    An error of the tree library itself becomes InvalidInput."""
    try:
        if model.flavor == "lightgbm":
            return _lightgbm(model.native, frame)
        if model.flavor == "xgboost":
            return _xgboost(model.native, frame)
        return _ensemble(model, frame, linear_means)
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in _LIBRARIES:
            raise
        raise InvalidInput(
            f"exact TreeSHAP failed on this {model.flavor} model: {type(exc).__name__}: {exc}",
            hint="explain it with method sampled_shapley",
        ) from exc


def _threads(rows: int) -> int:
    """LightGBM threads: one for a few rows, all cores (0) when TreeSHAP's cost (about a
    millisecond per row for a few hundred trees) makes them pay."""
    return 1 if rows < 64 else 0


def _split(contrib: np.ndarray, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, k·(d+1)) or (rows, k, d+1) contributions → attributions (n, k, d), bias (n, k)."""
    c = contrib.reshape(n, k, -1)
    return c[:, :, :-1], c[:, :, -1]


def _lightgbm_contrib(
    booster: Any, x: Any, k: int, *, raw: bool, average: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`pred_contrib` (and raw scores) of a LightGBM booster; with `average`, divided by the
    iterations of an averaging forest, as its predictions are."""
    import numpy as np

    n = len(x)
    threads = _threads(n)
    contrib = np.asarray(booster.predict(x, pred_contrib=True, num_threads=threads), dtype=float)
    scores = (
        np.asarray(booster.predict(x, raw_score=True, num_threads=threads), dtype="float64")
        if raw
        else np.empty((n, k))
    )
    if average and lightgbm_facts(booster).averaged:
        # LightGBM sums the trees in both, while predict() divides by the iterations it used.
        best = booster.best_iteration
        iterations = best if best > 0 else booster.current_iteration()
        contrib, scores = contrib / iterations, scores / iterations
    phi, bias = _split(contrib, n, k)
    return phi, bias, scores.reshape(n, k)


def _lightgbm(booster: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = booster.num_model_per_iteration()
    return _lightgbm_contrib(booster, frame, k, raw=True, average=True)


def _xgboost(booster: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np
    import xgboost as xgb

    n = len(frame)
    dm = xgb.DMatrix(frame, enable_categorical=True)
    contrib = np.asarray(
        booster.predict(dm, pred_contribs=True, validate_features=False), dtype="float64"
    )
    margin = np.asarray(
        booster.predict(dm, output_margin=True, validate_features=False), dtype="float64"
    )
    k = 1 if margin.ndim == 1 else margin.shape[1]
    phi, bias = _split(contrib, n, k)
    return phi, bias, margin.reshape(n, k)


def _ensemble(
    model: LoadedModel, frame: pd.DataFrame, linear_means: Mapping[str, list[float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import numpy as np

    ens = model.native
    x = ens.matrix(frame)
    n, p = x.shape
    k = ens.n_classes if ens.task == "multiclass" else 1
    total = sum(m.weight for m in ens.members)
    phi = np.zeros((n, k, p))
    bias = np.zeros((n, k))
    catboost_pool = None  # built once for every CatBoost member
    for i, m in enumerate(ens.members):
        if m.weight <= 0:
            continue
        if m.kind == "lightgbm":
            # The ensemble sums a member's trees (`member_scores`), forest or not.
            part, base, _ = _lightgbm_contrib(m.model, x, k, raw=False, average=False)
        elif m.kind == "catboost":
            from pmle.models.catboost_member import pool

            if catboost_pool is None:
                catboost_pool = pool(x, ens.transform.categorical_features)
            contrib = np.asarray(
                m.model.get_feature_importance(data=catboost_pool, type="ShapValues")
            )
            part, base = _split(contrib, n, k)
        else:
            part, base = _linear(m.model, x, linear_means.get(str(i)), k)
        share = m.weight / total
        phi += share * part
        bias += share * base
    scores = np.asarray(ens.scores(x)).reshape(n, k)
    # Matrix columns → the input column each was made from (columns it does not read get 0).
    names = model.signature.input_names
    where = {c: j for j, c in enumerate(names)}
    fold = np.zeros((p, len(names)))
    for col, source in enumerate(ens.transform.source_column()):
        fold[col, where[source]] = 1.0
    return phi @ fold, bias, scores


def needs_linear_means(model: LoadedModel) -> bool:
    """Whether exact attributions need the training means of a linear member's terms."""
    return model.flavor == "ensemble" and any(
        m.kind == "linear" and m.weight > 0 for m in model.native.members
    )


def linear_term_means(model: LoadedModel, data: Any) -> dict[str, list[float]]:
    """Mean of each linear member's terms over `data` (the training rows), by member index: what
    exact linear attributions are measured against."""
    if not needs_linear_means(model):
        return {}
    ens = model.native
    x = ens.matrix(model.prepare(data))
    return {
        str(i): linear_terms(m.model, x)[0].mean(axis=0).tolist()
        for i, m in enumerate(ens.members)
        if m.kind == "linear" and m.weight > 0
    }


def linear_terms(member: Any, x: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The terms of :meth:`LinearMember.decision` (rows × terms) and each term's matrix column."""
    import numpy as np

    num = x[:, member.numeric]
    num = np.where(np.isnan(num), np.asarray(member.medians), num)
    parts = [(num - np.asarray(member.means)) / np.asarray(member.scales)]
    columns = list(member.numeric)
    for col, cats in zip(member.categorical, member.categories, strict=True):
        codes = np.nan_to_num(x[:, [col]], nan=-1.0)
        parts.append((codes == np.asarray(cats)[None, :]).astype("float64"))
        columns += [col] * len(cats)
    return np.hstack(parts), columns


def _linear(
    member: Any, x: np.ndarray, means: list[float] | None, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact attributions of a linear model for independent inputs: coef · (term − mean)."""
    import numpy as np

    terms, columns = linear_terms(member, x)
    if means is None:
        if member.categorical:
            raise InvalidInput(
                "exact attributions of this ensemble's linear member need its training rows",
                hint="compute the model's explanation baseline first (ws.explanations.baseline)",
            )
        # Standardised on the training rows, so each numeric term's training mean is 0.
        means = [0.0] * terms.shape[1]
    centred = terms - np.asarray(means)[None, :]
    coef = np.asarray(member.coef).reshape(k, -1)
    per_term = centred[:, None, :] * coef[None, :, :]  # (n, k, terms)
    p = x.shape[1]
    fold = np.zeros((len(columns), p))
    fold[np.arange(len(columns)), columns] = 1.0
    expected = coef @ np.asarray(means) + np.asarray(member.intercept).reshape(k)
    return per_term @ fold, np.broadcast_to(expected, (len(x), k)).copy()
