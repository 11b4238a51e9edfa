"""scikit-learn flavor: estimators and pipelines saved with skops (`model.skops`), never pickle.

skops loads only the types it is told to trust. pmle trusts classes (not functions: skops may
call a trusted callable with arguments from the file) from scikit-learn, NumPy, SciPy and
LightGBM, minus modules that read or write files, plus a few builtins. Anything else is
refused with InvalidInput — both when saving (so a model that cannot be loaded safely is never
stored) and when loading.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.models.flavors import (
    Facts,
    check_task,
    class_list,
    labels_array,
    not_a_classifier,
    translate_errors,
)
from pmle.models.signature import Signature

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NAME = "sklearn"
FILENAME = "model.skops"

_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "lightgbm.")
# Inside the trusted packages, modules and classes that touch files or run code.
_DENIED_PREFIXES = (
    "numpy.lib.",
    "numpy.memmap",
    "numpy.core.memmap",
    "numpy._core.memmap",
    "numpy.f2py",
    "numpy.distutils",
    "numpy.testing",
    "numpy.ctypeslib",
    "scipy.io",
    "scipy.datasets",
    "scipy._lib",
    "sklearn.datasets",
    "sklearn.utils._testing",
    "lightgbm.basic.Dataset",
    "lightgbm.callback",
    "lightgbm.dask",
    "lightgbm.engine",
    "lightgbm.plotting",
)
_BASIC_TYPES = frozenset(
    f"builtins.{t}"
    for t in (
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "str",
        "int",
        "float",
        "bool",
        "complex",
        "bytes",
        "bytearray",
        "slice",
        "range",
        "NoneType",
    )
) | frozenset(f"collections.{t}" for t in ("OrderedDict", "defaultdict", "Counter", "deque"))


def _resolve(name: str) -> Any:
    """The object a dotted name points to, importing only its (trusted) module."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


def is_trusted(name: str) -> bool:
    """Whether pmle lets skops load the type called `name`."""
    import numpy as np

    if name in _BASIC_TYPES:
        return True
    if not name.startswith(_TRUSTED_PREFIXES) or name.startswith(_DENIED_PREFIXES):
        return False
    try:
        obj = _resolve(name)
    except (ImportError, AttributeError):
        return False
    return isinstance(obj, type | np.ufunc)


def scan(path: Path) -> tuple[list[str], list[str]]:
    """The types in a skops file outside skops' defaults: (the ones pmle trusts, the rest)."""
    import skops.io as sio

    try:
        names = sio.get_untrusted_types(file=path)
    except Exception as exc:  # a corrupt or foreign file: skops raises many kinds
        raise InvalidInput(f"cannot read {path.name}: {exc.__class__.__name__}: {exc}")
    trusted = sorted(n for n in names if is_trusted(n))
    return trusted, sorted(n for n in names if n not in trusted)


def facts(model: Any, *, task: str | None, classes: list[Any] | None) -> Facts:
    """Task, classes and feature names of a fitted scikit-learn estimator or pipeline."""
    import numpy as np
    import scipy
    import sklearn
    import skops
    from sklearn.base import is_classifier, is_regressor
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InvalidInput(f"the {type(model).__name__} is not fitted", hint="call fit() first")
    except TypeError as exc:
        raise InvalidInput(f"not a scikit-learn estimator: {exc}")
    detected: str | None = None
    model_classes: list[Any] | None = None
    labels = getattr(model, "classes_", None)
    if is_classifier(model) and labels is not None and np.ndim(labels) == 1:
        model_classes = class_list(labels)
        detected = "binary" if len(model_classes) == 2 else "multiclass"
    elif is_regressor(model):
        detected = "regression"
    final_task = check_task(detected, task)
    if classes is not None and model_classes is not None and list(classes) != model_classes:
        raise InvalidInput(
            f"classes {classes!r} given, but the model's classes are {model_classes!r}"
        )
    names = getattr(model, "feature_names_in_", None)
    return Facts(
        task=final_task,
        classes=model_classes if final_task in {"binary", "multiclass"} else None,
        libraries={
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        feature_names=[str(n) for n in names] if names is not None else None,
        extra={"options": {"input": "frame" if names is not None else "array"}},
    )


def signature(facts: Facts, declared: Signature | None) -> Signature:
    """The declared signature, checked against the columns the estimator was fitted on."""
    if declared is None:
        raise InvalidInput(
            "cannot tell the input columns of a scikit-learn model",
            hint="pass input_example (a few training rows as a DataFrame) or signature",
        )
    if facts.feature_names is not None and declared.input_names != facts.feature_names:
        raise InvalidInput(
            "the signature's columns differ from those the model was fitted on",
            hint=f"the model was fitted on {', '.join(facts.feature_names)} (in this order)",
        )
    return declared


def dump_checked(model: Any, path: Path) -> None:
    """Dump an estimator with skops, refusing one that could not be loaded back safely."""
    import skops.io as sio

    try:
        sio.dump(model, path)
    except Exception as exc:  # skops raises TypeError / its own errors for unsupported objects
        raise InvalidInput(f"skops cannot save this model: {exc.__class__.__name__}: {exc}")
    _, refused = scan(path)
    if refused:
        path.unlink()
        raise InvalidInput(
            f"cannot save the model safely: it holds types pmle will not load: "
            f"{', '.join(refused)}",
            hint="use estimators and functions from scikit-learn, NumPy, SciPy or LightGBM",
        )


def save(model: Any, facts: Facts, directory: Path) -> None:
    """Dump with skops, then refuse what could not be loaded back safely."""
    dump_checked(model, directory / FILENAME)


class Predictor:
    """A scikit-learn estimator read back with skops."""

    categorical = False

    def __init__(self, estimator: Any, task: str | None, as_frame: bool) -> None:
        self.native = estimator
        self.task = task
        self._as_frame = as_frame
        labels = getattr(estimator, "classes_", None)
        self.classes = labels_array(class_list(labels)) if labels is not None else None

    def _input(self, frame: pd.DataFrame) -> Any:
        # A model fitted on an array would warn about feature names given a DataFrame.
        return frame if self._as_frame else frame.to_numpy()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The estimator's own predict."""
        with translate_errors(ValueError, TypeError):
            return self.native.predict(self._input(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """The estimator's own predict_proba."""
        if self.task not in {"binary", "multiclass"} or not hasattr(self.native, "predict_proba"):
            raise not_a_classifier(self.task)
        with translate_errors(ValueError, TypeError):
            return self.native.predict_proba(self._input(frame))


def load_checked(path: Path) -> Any:
    """Load a skops file, trusting only what :func:`is_trusted` allows."""
    import skops.io as sio

    if not path.is_file():
        raise InvalidInput(f"{path} is missing", hint="the model folder is incomplete")
    trusted, refused = scan(path)
    if refused:
        raise InvalidInput(
            f"refusing to load {path}: it holds untrusted types {', '.join(refused)}",
            hint="only scikit-learn, NumPy, SciPy and LightGBM classes are loaded",
        )
    try:
        return sio.load(path, trusted=trusted)
    except Exception as exc:  # corrupt file: skops / numpy raise many kinds
        raise InvalidInput(f"cannot load {path}: {exc.__class__.__name__}: {exc}")


def load(directory: Path, manifest: dict[str, Any]) -> Predictor:
    """Load `model.skops`, trusting only what :func:`is_trusted` allows."""
    estimator = load_checked(directory / FILENAME)
    options = manifest.get("options") or {}
    return Predictor(estimator, manifest.get("task"), options.get("input", "frame") == "frame")
