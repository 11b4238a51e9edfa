"""The `ensemble` flavor: a feature transform and weighted LightGBM / scikit-learn members.

```
model/
  pmle-model.json
  ensemble.json        task, classes, target transform, members (kind, file, weight), info
  transform.json       the fitted feature transform
  members/m0.txt       LightGBM booster text
  members/m1.skops     scikit-learn estimator (loaded with the sklearn flavor's trust rules)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from pmle.errors import InvalidInput
from pmle.models.flavors import Facts, class_list

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pmle.models.ensemble import EnsembleModel
    from pmle.models.signature import Signature

NAME = "ensemble"
FILENAME = "ensemble.json"
TRANSFORM_FILE = "transform.json"
#: info keys written as files of their own.
CARD_FILES = {"model_card_md": "model_card.md", "model_card_html": "model_card.html"}


def facts(model: Any, *, task: str | None, classes: list[Any] | None) -> Facts:
    """Task and classes come from the ensemble itself."""
    from pmle.models.flavors import check_task

    libraries: dict[str, str] = {}
    kinds = {m.kind for m in model.members}
    if "linear" in kinds:
        kinds.add("sklearn")  # fitted with scikit-learn, stored as numbers
    if "catboost" in kinds:
        import catboost

        libraries["catboost"] = catboost.__version__
    if "lightgbm" in kinds:
        import lightgbm

        libraries["lightgbm"] = lightgbm.__version__
    if "sklearn" in kinds:
        import sklearn

        libraries["scikit-learn"] = sklearn.__version__
    if classes is not None and model.classes is not None and list(classes) != list(model.classes):
        raise InvalidInput("classes given differ from the ensemble's classes")
    return Facts(
        task=check_task(model.task, task),
        classes=class_list(model.classes) if model.classes is not None else None,
        libraries=libraries,
        feature_names=model.transform.input_columns,
    )


def signature(facts: Facts, declared: Signature | None) -> Signature:
    """The declared signature (AutoML always declares the training frame's)."""
    if declared is None:
        raise InvalidInput(
            "an ensemble needs an input signature",
            hint="pass input_example= (a few training rows) or signature=",
        )
    wanted = set(facts.feature_names or [])
    missing = wanted - set(declared.input_names)
    if missing:
        raise InvalidInput(f"the signature lacks column(s) the model reads: {sorted(missing)}")
    return declared


def save(model: EnsembleModel, facts: Facts, directory: Path) -> None:
    """Write transform, member files and the ensemble description."""
    from pmle.models.flavors import sklearn_flavor

    members_dir = directory / "members"
    members_dir.mkdir()
    described = []
    for i, m in enumerate(model.members):
        if m.kind == "lightgbm":
            file = f"members/m{i}.txt"
            (directory / file).write_text(m.model.model_to_string(), encoding="utf-8")
        elif m.kind == "sklearn":
            file = f"members/m{i}.skops"
            sklearn_flavor.dump_checked(m.model, directory / file)
        elif m.kind == "linear":
            file = f"members/m{i}.json"
            (directory / file).write_bytes(orjson.dumps(m.model.to_dict()))
        elif m.kind == "catboost":
            from pmle.models import catboost_member

            file = f"members/m{i}.cbm"
            catboost_member.save(m.model, str(directory / file))
        else:
            raise InvalidInput(f"unknown ensemble member kind {m.kind!r}")
        described.append({"kind": m.kind, "file": file, "weight": m.weight, "name": m.name})
    (directory / TRANSFORM_FILE).write_bytes(
        orjson.dumps(model.transform.to_dict(), option=orjson.OPT_INDENT_2)
    )
    info = dict(model.info)
    # A model card travels inside the model folder as its own readable files.
    for key, file in CARD_FILES.items():
        if key in info:
            (directory / file).write_text(str(info.pop(key)), encoding="utf-8")
    spec = {
        "task": model.task,
        "classes": facts.classes,
        "target_transform": model.target_transform,
        "members": described,
        "info": info,
    }
    (directory / FILENAME).write_bytes(
        orjson.dumps(spec, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )


class Predictor:
    """An ensemble read back from its folder."""

    categorical = False

    def __init__(self, model: EnsembleModel) -> None:
        self.native = model

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Labels or values."""
        return self.native.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities."""
        return self.native.predict_proba(frame)


def load(directory: Path, manifest: dict[str, Any]) -> Predictor:
    """Read transform and members; LightGBM from text, scikit-learn through skops' trust rules."""
    import lightgbm as lgb

    from pmle.models.ensemble import EnsembleModel, Member
    from pmle.models.flavors import sklearn_flavor
    from pmle.models.linear_member import LinearMember
    from pmle.models.signature import Signature
    from pmle.models.transforms import FeatureTransform

    try:
        spec = orjson.loads((directory / FILENAME).read_bytes())
        transform = FeatureTransform.from_dict(
            orjson.loads((directory / TRANSFORM_FILE).read_bytes())
        )
    except (OSError, orjson.JSONDecodeError, TypeError) as exc:
        raise InvalidInput(f"cannot read the ensemble in {directory}: {exc}")
    members = []
    for m in spec.get("members", []):
        path = (directory / m["file"]).resolve()
        if directory.resolve() not in path.parents:
            raise InvalidInput(f"member path {m['file']!r} leaves the model folder")
        if m["kind"] == "lightgbm":
            try:
                model: Any = lgb.Booster(model_file=str(path))
            except lgb.basic.LightGBMError as exc:
                raise InvalidInput(f"cannot read {path}: {exc}")
        elif m["kind"] == "sklearn":
            model = sklearn_flavor.load_checked(path)
        elif m["kind"] == "catboost":
            model = _load_catboost(path)
        elif m["kind"] == "linear":
            try:
                model = LinearMember(**orjson.loads(path.read_bytes()))
            except (OSError, orjson.JSONDecodeError, TypeError) as exc:
                raise InvalidInput(f"cannot read {path}: {exc}")
        else:
            raise InvalidInput(f"unknown ensemble member kind {m['kind']!r}")
        members.append(Member(m["kind"], model, float(m["weight"]), m.get("name", "")))
    ensemble = EnsembleModel(
        transform=transform,
        members=members,
        task=spec["task"],
        classes=spec.get("classes"),
        target_transform=spec.get("target_transform"),
        input_signature=Signature.from_dict(manifest["signature"]),
        info=spec.get("info") or {},
    )
    return Predictor(ensemble)


def _load_catboost(path: Path) -> Any:
    try:
        from pmle.models import catboost_member

        return catboost_member.load(str(path))
    except ImportError:
        raise InvalidInput(
            "this model has a CatBoost member and catboost is not installed",
            hint="pip install 'pmle[catboost]'",
        )
    except Exception as exc:  # catboost raises its own CatBoostError for a corrupt file
        raise InvalidInput(f"cannot read {path}: {exc.__class__.__name__}: {exc}")
