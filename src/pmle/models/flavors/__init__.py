"""Flavors: how each framework's model is written in its own safe format and read back.

A flavor is found from the model object's class hierarchy by module name, so detecting a
flavor never imports a framework the model does not use.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.models.signature import Signature

#: Flavor name → module (relative to this package); detection tries them in this order, because
#: a LightGBM or XGBoost scikit-learn wrapper is also a scikit-learn estimator.
_MODULES = {
    "lightgbm": "lightgbm_flavor",
    "xgboost": "xgboost_flavor",
    "sklearn": "sklearn_flavor",
    "ensemble": "ensemble_flavor",
    "sqlml": "sqlml_flavor",
}
FLAVORS = tuple(_MODULES)
TASKS = ("binary", "multiclass", "regression")


@dataclass
class Facts:
    """What a flavor learned about a model object before saving it."""

    task: str | None
    classes: list[Any] | None
    libraries: dict[str, str]
    #: The model's own feature names, in input order, when it knows them.
    feature_names: list[str] | None = None
    #: Flavor-specific details the signature step needs (e.g. training categories).
    extra: dict[str, Any] = field(default_factory=dict)


class Predictor(Protocol):
    """A loaded native model, called with a frame already checked against the signature."""

    native: Any
    #: Whether string columns are passed as pandas Categoricals with the training categories.
    categorical: ClassVar[bool]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Class labels (classifiers) or predicted values."""
        ...

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities, one column per class."""
        ...


class Flavor(Protocol):
    """The narrow interface every flavor module implements."""

    NAME: str
    FILENAME: str

    def facts(self, model: Any, *, task: str | None, classes: list[Any] | None) -> Facts:
        """Task, classes and library versions of a fitted model; InvalidInput if unfitted."""
        ...

    def signature(self, facts: Facts, declared: Signature | None) -> Signature:
        """The input signature to store: the declared one checked and completed (training
        categories), or one built from the model when none was declared."""
        ...

    def save(self, model: Any, facts: Facts, directory: Path) -> None:
        """Write the model file into `directory`."""
        ...

    def load(self, directory: Path, manifest: dict[str, Any]) -> Predictor:
        """Read the model file back, without unpickling anything."""
        ...


def get_flavor(name: str) -> Flavor:
    """The flavor module for a name in :data:`FLAVORS`."""
    if name not in _MODULES:
        raise InvalidInput(f"unknown model flavor {name!r}", hint=f"known: {', '.join(FLAVORS)}")
    module: Any = importlib.import_module(f"{__name__}.{_MODULES[name]}")
    return module


def detect_flavor(model: Any) -> str:
    """The flavor of a model object: its `__pmle_flavor__`, else the modules of its classes."""
    declared = getattr(type(model), "__pmle_flavor__", None)
    if declared in _MODULES:
        return str(declared)
    modules = [c.__module__ for c in type(model).__mro__]
    for flavor in FLAVORS:
        if any(m == flavor or m.startswith(flavor + ".") for m in modules):
            return flavor
    raise InvalidInput(
        f"cannot save a {type(model).__module__}.{type(model).__qualname__}",
        hint="pmle saves LightGBM, XGBoost and scikit-learn models (and scikit-learn pipelines)",
    )


def check_task(detected: str | None, given: str | None) -> str | None:
    """Reconcile the task found in the model with the one the caller gave."""
    if given is not None and given not in TASKS:
        raise InvalidInput(f"invalid task {given!r}", hint=f"use one of {', '.join(TASKS)}")
    if given is not None and detected is not None and given != detected:
        raise InvalidInput(f"task {given!r} given, but the model is a {detected} model")
    return given if given is not None else detected


def class_list(values: Any) -> list[Any]:
    """Class labels as JSON-able Python scalars."""
    import numpy as np

    return [v.item() if isinstance(v, np.generic) else v for v in list(values)]


def default_classes(task: str | None, n_classes: int) -> list[Any] | None:
    """Classes 0..k-1 for a classifier whose labels are not recorded in the model."""
    if task == "binary":
        return [0, 1]
    if task == "multiclass":
        return list(range(n_classes))
    return None


def check_classes(task: str | None, classes: list[Any] | None, n_outputs: int) -> None:
    """A classifier needs one class per probability column."""
    if task in {"binary", "multiclass"}:
        expected = 2 if task == "binary" else n_outputs
        if classes is None or len(classes) != expected:
            raise InvalidInput(
                f"a {task} model needs {expected} classes, got {classes!r}",
                hint="pass classes=[...] in the order of the model's outputs",
            )


def labels_array(classes: list[Any]) -> np.ndarray:
    """Class labels as a numpy array; strings as objects, like scikit-learn's `classes_`."""
    import numpy as np

    if any(isinstance(c, str) for c in classes):
        return np.array(classes, dtype=object)
    return np.asarray(classes)


def proba_from_scores(task: str | None, scores: np.ndarray) -> np.ndarray:
    """Probabilities with one column per class from a booster's output (1-D for binary)."""
    import numpy as np

    if task == "binary" and scores.ndim == 1:
        # The same stacking LightGBM's and XGBoost's scikit-learn wrappers do.
        return np.vstack((1.0 - scores, scores)).transpose()
    return scores


@contextlib.contextmanager
def translate_errors(*errors: type[BaseException]) -> Iterator[None]:
    """Turn a framework's complaint about the input into InvalidInput."""
    try:
        yield
    except errors as exc:
        raise InvalidInput(
            f"the model could not predict on this input: {exc.__class__.__name__}: {exc}",
            hint="check the input's columns and types against the model signature",
        )


def not_a_classifier(task: str | None) -> InvalidInput:
    """The error for predict_proba on a model without class probabilities."""
    return InvalidInput(
        f"predict_proba needs a classifier; this model's task is {task or 'unknown'}",
        hint="use predict() for values",
    )


class BoosterPredictor(abc.ABC):
    """A gradient-boosted booster: labels via argmax of the class probabilities (as the
    scikit-learn wrappers pick them), values for regression. Subclasses give `_scores`."""

    categorical = True

    def __init__(self, booster: Any, task: str | None, classes: list[Any] | None) -> None:
        self.native = booster
        self.task = task
        self.classes = labels_array(classes) if classes else None

    @abc.abstractmethod
    def _scores(self, frame: pd.DataFrame) -> np.ndarray:
        """The booster's raw output for a checked frame."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Class labels (classifiers) or predicted values."""
        if self.classes is None:
            return self._scores(frame)
        return self.classes[self.predict_proba(frame).argmax(axis=1)]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """One column per class."""
        if self.task not in {"binary", "multiclass"}:
            raise not_a_classifier(self.task)
        return proba_from_scores(self.task, self._scores(frame))
