"""Models: a safe on-disk format (manifest + the framework's own file) and the registry.

```python
from pmle.models import save_model, load_model

save_model(clf, "out/churn", input_example=X.head())
m = load_model("out/churn")
m.predict(X)

ws.models.register("churn", clf, input_example=X.head(), inputs=[dataset_artifact_id])
ws.models.set_alias("churn@2", "champion")
ws.models.load("churn@champion").predict_proba(X)
```

Importing this package is cheap: LightGBM, XGBoost, scikit-learn, skops and pandas are imported
only by the functions that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "COLUMN_TYPES",
    "FLAVORS",
    "MANIFEST_FILE",
    "ColumnSpec",
    "LoadedModel",
    "ModelVersion",
    "RegisteredModel",
    "Registry",
    "Signature",
    "detect_flavor",
    "infer_signature",
    "load_model",
    "read_manifest",
    "save_model",
]

if TYPE_CHECKING:
    from pmle.models.flavors import FLAVORS, detect_flavor
    from pmle.models.format import MANIFEST_FILE, LoadedModel, load_model, read_manifest, save_model
    from pmle.models.registry import ModelVersion, RegisteredModel, Registry
    from pmle.models.signature import COLUMN_TYPES, ColumnSpec, Signature, infer_signature

_WHERE = {
    "FLAVORS": "flavors",
    "detect_flavor": "flavors",
    "MANIFEST_FILE": "format",
    "LoadedModel": "format",
    "load_model": "format",
    "read_manifest": "format",
    "save_model": "format",
    "ModelVersion": "registry",
    "RegisteredModel": "registry",
    "Registry": "registry",
    "COLUMN_TYPES": "signature",
    "ColumnSpec": "signature",
    "Signature": "signature",
    "infer_signature": "signature",
}


# Lazy re-exports: the registry pulls in SQLAlchemy, which `import pmle.models` should not.
__getattr__ = lazy_exports(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted(__all__)
