"""Greedy ensemble selection with replacement (Caruana et al., 2004).

Starting from the best single candidate, repeatedly add (again, possibly) the candidate whose
inclusion most improves the objective on the out-of-fold predictions; the weights are how often
each was picked. It cannot do worse than the best candidate on those predictions. Candidates
are averaged in score space (log-odds / log-probabilities, see :mod:`pmle.models.ensemble`)
and scored after the link, exactly as the final model will predict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from pmle.automl.objectives import Objective


def select(
    predictions: list[np.ndarray],
    y: np.ndarray,
    objective: Objective,
    weight: np.ndarray | None = None,
    rounds: int = 40,
    link: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[float]:
    """Weights (summing to 1) over `predictions` (scores: rows × outputs, or rows)."""
    import numpy as np

    n = len(predictions)
    if n == 1:
        return [1.0]
    to_pred = link or (lambda s: s)

    def loss(scores: np.ndarray) -> float:
        return objective.loss(y, to_pred(scores), weight)

    losses = [loss(p) for p in predictions]
    counts = np.zeros(n)
    best = int(np.argmin(losses))
    counts[best] = 1
    current = predictions[best].copy()
    current_loss = losses[best]
    for step in range(1, rounds):
        size = step + 1
        trial_losses = [loss((current * step + p) / size) for p in predictions]
        pick = int(np.argmin(trial_losses))
        if trial_losses[pick] > current_loss - 1e-12 and step >= 5:
            break  # no candidate improves any more
        counts[pick] += 1
        current = (current * step + predictions[pick]) / size
        current_loss = trial_losses[pick]
    return [float(c) for c in counts / counts.sum()]
