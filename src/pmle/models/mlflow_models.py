"""Models to and from MLflow's model format (an `MLmodel` file and the framework's files).

- **Export** (`export_mlflow`, needs the `mlflow` extra): a registered LightGBM, XGBoost or
  scikit-learn model version written with MLflow's own `save_model` of its flavor (LightGBM
  and XGBoost boosters in their own formats, scikit-learn with skops), with an MLflow
  signature from the pmle one — so `mlflow.pyfunc.load_model` and `mlflow models serve` take it.
- **Import** (`import_mlflow`, no MLflow needed): the `MLmodel` file is read as YAML and the
  flavor's files loaded directly — LightGBM's model text, XGBoost's JSON / UBJSON, scikit-learn
  saved with skops (pmle's trusted types only). Pickled models (scikit-learn's default
  format, LightGBM's scikit-learn wrappers) can run code when loaded: they are refused unless
  `allow_pickle=True` says the file is trusted. The signature comes from the MLmodel's
  (column names and types).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    from pmle.models.registry import ModelVersion
    from pmle.models.signature import Signature
    from pmle.workspace import Workspace

__all__ = ["export_mlflow", "import_mlflow", "read_mlmodel"]

#: pmle column type → MLflow ColSpec type, and back
_TO_MLFLOW = {"integer": "long", "float": "double", "boolean": "boolean", "string": "string"}
_TO_MLFLOW["datetime"] = "datetime"
_FROM_MLFLOW = {"long": "integer", "integer": "integer", "double": "float", "float": "float"}
_FROM_MLFLOW |= {"boolean": "boolean", "string": "string", "datetime": "datetime"}
MLFLOW_HINT = "pip install 'pmle[mlflow]'"


def _mlflow(what: str) -> Any:
    try:
        import mlflow
    except ImportError:
        raise InvalidInput(f"{what} needs MLflow, which is not installed", hint=MLFLOW_HINT)
    return mlflow


def _mlflow_signature(signature: Signature) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec(_TO_MLFLOW[c.type], c.name) for c in signature.inputs])
    )


def export_mlflow(ws: Workspace, ref: str, path: str | Path) -> Path:
    """Write model version `ref` as an MLflow model folder at `path` (which must not exist)."""
    mlflow = _mlflow("exporting to MLflow's model format")
    version = ws.models.get(ref)
    loaded = ws.models.load(version.ref)
    target = Path(path)
    if target.exists():
        raise InvalidInput(f"{target} already exists", hint="export to a new folder")
    signature = _mlflow_signature(loaded.signature)
    metadata = {"pmle_model": version.ref, "pmle_task": loaded.task}
    if loaded.classes is not None:
        metadata["pmle_classes"] = json.dumps(
            [c.item() if hasattr(c, "item") else c for c in loaded.classes], default=str
        )
    native = loaded.native
    if loaded.flavor == "lightgbm":
        mlflow.lightgbm.save_model(native, str(target), signature=signature, metadata=metadata)
    elif loaded.flavor == "xgboost":
        mlflow.xgboost.save_model(
            native, str(target), signature=signature, metadata=metadata, model_format="json"
        )
    elif loaded.flavor == "sklearn":
        mlflow.sklearn.save_model(
            native,
            str(target),
            signature=signature,
            metadata=metadata,
            serialization_format="skops",
            skops_trusted_types=_skops_types(native),
        )
    else:
        raise InvalidInput(
            f"{version.ref} is a {loaded.flavor} model; MLflow export covers LightGBM, XGBoost "
            "and scikit-learn models",
        )
    return target


def _skops_types(model: Any) -> list[str]:
    """The types a skops dump of `model` holds (so MLflow can load it without asking)."""
    import tempfile

    import skops.io as sio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.skops"
        sio.dump(model, path)
        return list(sio.get_untrusted_types(file=path))


def read_mlmodel(path: str | Path) -> dict[str, Any]:
    """The parsed MLmodel file of an MLflow model folder."""
    import yaml

    folder = Path(path)
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        raise InvalidInput(f"{folder} is not an MLflow model folder (no MLmodel file)")
    try:
        data = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"cannot read {mlmodel}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise InvalidInput(f"{mlmodel} names no flavors")
    return data


def _signature(mlmodel: dict[str, Any]) -> Signature | None:
    from pmle.models.signature import ColumnSpec, Signature

    raw = (mlmodel.get("signature") or {}).get("inputs")
    if not raw:
        return None
    columns = json.loads(raw) if isinstance(raw, str) else raw
    specs = []
    for col in columns:
        name, kind = col.get("name"), _FROM_MLFLOW.get(str(col.get("type")))
        if name is None or kind is None:
            return None  # tensor signatures and the like: let the flavor infer it
        specs.append(ColumnSpec(name, kind))
    return Signature(tuple(specs)) if specs else None


def _from_feature_names(model: Any) -> Signature | None:
    """A signature of number columns from a scikit-learn model fitted on a DataFrame, for
    MLflow models saved without one."""
    from pmle.models.signature import ColumnSpec, Signature

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None
    return Signature(tuple(ColumnSpec(str(n), "float") for n in names))


def _unpickle(path: Path, allow_pickle: bool) -> Any:
    if not allow_pickle:
        raise InvalidInput(
            f"{path.name} is a pickle, which can run code when loaded",
            hint="import it with allow_pickle=True (--allow-pickle) only if you trust the file",
        )
    import pickle

    with open(path, "rb") as f:
        return pickle.load(f)  # the caller said the file is trusted


def _load_native(folder: Path, flavors: dict[str, Any], allow_pickle: bool) -> tuple[str, Any]:
    """(pmle flavor, the model object) of an MLflow model folder."""
    if "lightgbm" in flavors:
        conf = flavors["lightgbm"]
        data = folder / str(conf.get("data", "model.lgb"))
        if str(conf.get("model_class", "lightgbm.basic.Booster")).endswith("Booster"):
            import lightgbm as lgb

            return "lightgbm", lgb.Booster(model_str=data.read_text(encoding="utf-8"))
        return "lightgbm", _unpickle(data, allow_pickle)
    if "xgboost" in flavors:
        conf = flavors["xgboost"]
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(str(folder / str(conf.get("data", "model.xgb"))))
        return "xgboost", booster
    if "sklearn" in flavors:
        conf = flavors["sklearn"]
        data = folder / str(conf.get("pickled_model", "model.pkl"))
        if conf.get("serialization_format") == "skops":
            from pmle.models.flavors.sklearn_flavor import load_checked

            return "sklearn", load_checked(data)
        return "sklearn", _unpickle(data, allow_pickle)
    raise InvalidInput(
        f"pmle imports MLflow models of the lightgbm, xgboost and sklearn flavors; this one "
        f"has {', '.join(sorted(flavors))}",
    )


def import_mlflow(
    ws: Workspace,
    path: str | Path,
    name: str,
    *,
    allow_pickle: bool = False,
    description: str = "",
) -> ModelVersion:
    """Register the MLflow model folder at `path` as a new version of `name`."""
    folder = Path(path)
    mlmodel = read_mlmodel(folder)
    flavor, model = _load_native(folder, mlmodel["flavors"], allow_pickle)
    signature = _signature(mlmodel) or _from_feature_names(model)
    metadata = mlmodel.get("metadata") or {}
    task = metadata.get("pmle_task") if isinstance(metadata, dict) else None
    classes = None
    if isinstance(metadata, dict) and metadata.get("pmle_classes"):
        classes = json.loads(metadata["pmle_classes"])
    import tempfile

    from pmle.models.format import save_model

    with tempfile.TemporaryDirectory(prefix="pmle-mlflow-") as tmp:
        saved = save_model(
            model,
            Path(tmp) / "model",
            signature=signature,
            task=task,
            classes=classes if flavor in {"lightgbm", "xgboost"} else None,
        )
        return ws.models.register(
            name,
            str(saved),
            description=description or f"imported from MLflow ({flavor})",
            execution="ImportMLflow",
            execution_properties={"source": str(folder.resolve()), "flavor": flavor},
        )
