"""The pmle model folder: a `pmle-model.json` manifest beside the framework's own safe file.

```
model/
  pmle-model.json   format_version, flavor, task, classes, signature, metrics, lineage, ...
  model.txt         LightGBM booster text   | model.json (XGBoost) | model.skops (scikit-learn)
```

Nothing in a model folder is ever unpickled.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import AlreadyExists, InvalidInput, NotFound
from pmle.models.signature import Signature, infer_signature, output_columns

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.models.flavors import Predictor

MANIFEST_FILE = "pmle-model.json"
FORMAT_VERSION = 1


def _json_safe(value: Any, what: str) -> Any:
    """A deep copy that is plain JSON (numpy scalars and arrays become Python values)."""
    import orjson

    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError as exc:
        raise InvalidInput(f"{what} must be JSON-serializable: {exc}")


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: pd.DataFrame | None = None,
    signature: Signature | dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    task: str | None = None,
    classes: list[Any] | None = None,
    lineage: dict[str, Any] | None = None,
) -> Path:
    """Save a fitted LightGBM, XGBoost or scikit-learn model as a pmle model folder.

    The signature is `signature` if given, else inferred from `input_example`, else built from
    the model where it knows its features. `path` must not exist (or be an empty folder); the
    folder appears complete or not at all.
    """
    from pmle import __version__
    from pmle._util import utcnow
    from pmle.models.flavors import check_task, detect_flavor, get_flavor

    target = Path(path).expanduser()
    if target.exists() and not (target.is_dir() and not any(target.iterdir())):
        raise AlreadyExists(f"{target} already exists", hint="save the model to a new folder")
    if metrics is not None and not isinstance(metrics, dict):
        raise InvalidInput("metrics must be a dict of name → value")
    check_task(None, task)  # a bad task name fails before any work
    flavor_name = detect_flavor(model)
    flavor = get_flavor(flavor_name)
    facts = flavor.facts(model, task=task, classes=classes)
    if isinstance(signature, dict):
        signature = Signature.from_dict(signature)
    elif signature is not None and not isinstance(signature, Signature):
        raise InvalidInput("signature must be a pmle Signature or its dict form")
    declared = (
        signature
        if signature is not None
        else (infer_signature(input_example) if input_example is not None else None)
    )
    sig = flavor.signature(facts, declared)
    sig = sig.with_outputs(sig.outputs or output_columns(facts.task, facts.classes))
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "flavor": flavor_name,
        "model_file": flavor.FILENAME,
        "task": facts.task,
        "classes": _json_safe(facts.classes, "classes"),
        "signature": _json_safe(sig.to_dict(), "signature"),
        "metrics": _json_safe(metrics or {}, "metrics"),
        "lineage": _json_safe(lineage or {}, "lineage"),
        "options": facts.extra.get("options", {}),
        "created_at": utcnow().isoformat(),
        "libraries": {"python": platform.python_version(), "pmle": __version__, **facts.libraries},
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: a reader never sees a half-written model folder.
    staging = Path(tempfile.mkdtemp(prefix=".pmle-model-", dir=target.parent))
    try:
        flavor.save(model, facts, staging)
        write_manifest(staging, manifest)
        if target.is_dir():
            target.rmdir()  # empty, checked above
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write `pmle-model.json`."""
    import orjson

    (directory / MANIFEST_FILE).write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    )


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a model folder, checked for the fields pmle needs."""
    import orjson

    from pmle.models.flavors import FLAVORS, TASKS

    folder = Path(path).expanduser()
    file = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise NotFound(f"no model folder at {folder}")
    if not file.is_file():
        raise InvalidInput(
            f"{folder} is not a pmle model folder (no {MANIFEST_FILE})",
            hint="save the model with pmle.models.save_model",
        )
    try:
        manifest = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"cannot parse {file}: {exc}")
    if not isinstance(manifest, dict):
        raise InvalidInput(f"{file} is not a JSON object")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise InvalidInput(f"{file} has no valid format_version")
    if version > FORMAT_VERSION:
        raise InvalidInput(
            f"{folder} uses model format {version}, newer than this pmle ({FORMAT_VERSION})",
            hint="upgrade pmle to load it",
        )
    if manifest.get("flavor") not in FLAVORS:
        raise InvalidInput(
            f"{file} names unknown flavor {manifest.get('flavor')!r}",
            hint=f"known flavors: {', '.join(FLAVORS)}",
        )
    if manifest.get("task") is not None and manifest["task"] not in TASKS:
        raise InvalidInput(f"{file} names unknown task {manifest['task']!r}")
    if "signature" not in manifest:
        raise InvalidInput(f"{file} has no signature")
    Signature.from_dict(manifest["signature"])  # validates
    return manifest


class LoadedModel:
    """A model read from a pmle model folder, predicting through the framework's native API."""

    def __init__(self, path: Path, manifest: dict[str, Any], predictor: Predictor) -> None:
        self.path = path
        self.manifest = manifest
        self.signature = Signature.from_dict(manifest["signature"])
        self._predictor = predictor

    def __repr__(self) -> str:
        return f"LoadedModel(flavor={self.flavor!r}, task={self.task!r}, path={str(self.path)!r})"

    @property
    def flavor(self) -> str:
        """`lightgbm`, `xgboost` or `sklearn`."""
        return str(self.manifest["flavor"])

    @property
    def task(self) -> str | None:
        """`binary`, `multiclass`, `regression` or None (raw model output)."""
        return self.manifest.get("task")

    @property
    def classes(self) -> list[Any] | None:
        """Class labels of a classifier, in probability-column order."""
        return self.manifest.get("classes")

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics recorded when the model was saved."""
        return dict(self.manifest.get("metrics") or {})

    @property
    def target(self) -> str | None:
        """The column the model was trained to predict, when recorded (AutoML records it)."""
        if self.manifest.get("target"):
            return str(self.manifest["target"])
        info = getattr(self.native, "info", None)
        if isinstance(info, dict) and info.get("target"):
            return str(info["target"])
        return None

    @property
    def native(self) -> Any:
        """The framework's own model object (LightGBM / XGBoost Booster, sklearn estimator)."""
        return self._predictor.native

    def prepare(self, data: Any) -> pd.DataFrame:
        """The input checked against the signature, as the native predictor takes it."""
        return self.signature.prepare(data, categorical=self._predictor.categorical)

    def predict(self, data: Any) -> np.ndarray:
        """Class labels for classifiers, values for regressors (or the model's raw output)."""
        return self._predictor.predict(self.prepare(data))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities, shape (rows, classes); InvalidInput for non-classifiers."""
        if self.task not in {"binary", "multiclass"}:
            from pmle.models.flavors import not_a_classifier

            raise not_a_classifier(self.task)
        return self._predictor.predict_proba(self.prepare(data))


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Load a pmle model folder; only the flavor's own safe format is read."""
    from pmle.models.flavors import get_flavor

    folder = Path(path).expanduser()
    manifest = read_manifest(folder)
    predictor = get_flavor(manifest["flavor"]).load(folder, manifest)
    return LoadedModel(folder, manifest, predictor)
