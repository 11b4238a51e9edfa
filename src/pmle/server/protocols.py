"""Request and response shapes of the three prediction protocols.

- Vertex AI: `{"instances": [...], "parameters": {...}}` → `{"predictions": [...],
  "deployedModelId", "model", "modelDisplayName", "modelVersionId"}`; classifiers answer
  `{"classes": [...], "scores": [...]}` per instance and regressors `{"value": v}`, as Vertex
  AutoML tabular models do.
- KServe V1: `{"instances": [...]}` → `{"predictions": [label or value, ...]}`.
- Open Inference Protocol V2: one input tensor per feature column (or one `[rows, columns]`
  tensor), JSON or the binary tensor extension; outputs `predict` (labels / values) and, for
  classifiers, `predict_proba`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np

    from pmle.models.signature import ColumnSpec
    from pmle.serving.runtime import Prediction, ServedModel

V2_NUMERIC = {
    "BOOL": "bool",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
V2_TYPES = (*V2_NUMERIC, "BYTES")
#: From this many instances on, Vertex predictions are spliced as JSON text (see
#: `vertex_predictions_json`); below, building the objects costs less.
SPLICE_ROWS = 16


def _plain(values: np.ndarray) -> list[Any]:
    """Python values for JSON; NaN / inf (not JSON) become null."""
    out = values.tolist()
    if values.dtype.kind == "f":
        return [None if (isinstance(v, float) and not math.isfinite(v)) else v for v in out]
    return out


# -- Vertex AI and KServe V1 -------------------------------------------------------------------


def instances_of(body: Any) -> list[Any]:
    """The `instances` of a Vertex / V1 request body."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the request body must be a JSON object with 'instances'")
    instances = body.get("instances")
    if instances is None:
        raise InvalidInput("the request body has no 'instances'", hint='send {"instances": [...]}')
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list")
    params = body.get("parameters")
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInput("'parameters' must be an object")
    return instances


def vertex_predictions(model: ServedModel, pred: Prediction) -> list[Any]:
    """Per-instance predictions in Vertex AutoML tabular's shape."""
    if pred.proba is not None:
        classes = list(model.classes or [])
        return [{"classes": classes, "scores": row} for row in pred.proba.tolist()]
    return [{"value": v} for v in _plain(pred.values)]


def vertex_predictions_json(model: ServedModel, pred: Prediction) -> Any:
    """`vertex_predictions` already written as JSON (an orjson Fragment the response embeds)
    when the numbers are float64 arrays; else the list itself. The same bytes either way:
    orjson writes a float64 array's numbers as it writes the Python floats `tolist` gives
    (NaN and infinities as null), and the per-instance objects around them are spliced in
    between the rows, without a Python dict and list per instance."""
    if len(pred.values) < SPLICE_ROWS:  # few instances: the objects cost less
        return vertex_predictions(model, pred)
    import numpy as np
    import orjson

    proba = pred.proba
    if proba is not None:
        if (
            proba.dtype != np.float64
            or proba.ndim != 2
            or not proba.shape[1]
            or not proba.flags.c_contiguous
        ):
            return vertex_predictions(model, pred)
        try:
            # as the app writes bodies (`_json_bytes`)
            options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
            classes = orjson.dumps(list(model.classes or []), option=options)
        except orjson.JSONEncodeError:
            return vertex_predictions(model, pred)
        head = b'{"classes":' + classes + b',"scores":'
        rows = orjson.dumps(proba, option=orjson.OPT_SERIALIZE_NUMPY)  # [[a,b],[c,d],...]
        spliced = rows[1:-1].replace(b"],[", b"]}," + head + b"[")
        return orjson.Fragment(b"[" + head + spliced + b"}]")
    values = pred.values
    if values.dtype != np.float64 or values.ndim != 1:
        return vertex_predictions(model, pred)
    numbers = orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.Fragment(b'[{"value":' + numbers[1:-1].replace(b",", b'},{"value":') + b"}]")


def v1_predictions(pred: Prediction) -> list[Any]:
    """Per-instance labels or values (KServe V1, like its scikit-learn server)."""
    return _plain(pred.values)


# -- Open Inference Protocol V2 ----------------------------------------------------------------


def v2_datatype(spec: ColumnSpec) -> str:
    """The V2 datatype of a signature column (a categorical column keeps its values' type)."""
    return {"integer": "INT64", "float": "FP64", "boolean": "BOOL"}.get(spec.type, "BYTES")


def v2_model_metadata(name: str, versions: list[str], model: ServedModel) -> dict[str, Any]:
    """`GET /v2/models/{name}`: one input per feature column, the outputs a request can ask."""
    outputs: list[dict[str, Any]] = [
        {"name": "predict", "datatype": _label_type(model), "shape": [-1]}
    ]
    if model.task in {"binary", "multiclass"}:
        outputs.append(
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(model.classes or [])]}
        )
    return {
        "name": name,
        "versions": versions,
        "platform": f"pmle_{model.loaded.flavor}",
        "inputs": [
            {"name": c.name, "datatype": v2_datatype(c), "shape": [-1]}
            for c in model.signature.inputs
        ],
        "outputs": outputs,
    }


def _label_type(model: ServedModel) -> str:
    if model.task in {"binary", "multiclass"} and model.classes:
        first = model.classes[0]
        if isinstance(first, bool):
            return "BOOL"
        if isinstance(first, int):
            return "INT64"
        if isinstance(first, float):
            return "FP64"
        return "BYTES"
    return "FP64"


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInput("tensor 'data' must be a list")
    if data and isinstance(data[0], list):
        flat: list[Any] = []
        stack = [data]
        while stack:  # row-major order, any depth
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            else:
                flat.append(item)
        return flat
    return data


def _binary_values(datatype: str, raw: bytes, count: int, name: str) -> list[Any]:
    import numpy as np

    if datatype == "BYTES":
        out: list[Any] = []
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise InvalidInput(f"input {name!r}: truncated BYTES element")
            size = int.from_bytes(raw[pos : pos + 4], "little")
            pos += 4
            out.append(raw[pos : pos + size].decode("utf-8", errors="replace"))
            pos += size
        return out
    dtype = np.dtype(V2_NUMERIC[datatype])
    if len(raw) != count * dtype.itemsize:
        raise InvalidInput(
            f"input {name!r}: binary data has {len(raw)} bytes, expected {count * dtype.itemsize}"
        )
    return np.frombuffer(raw, dtype=dtype).tolist()


def v2_columns(
    body: Any, model: ServedModel, binary: bytes = b""
) -> tuple[dict[str, list[Any]], int, list[str] | None]:
    """Per-column values, the row count and the requested output names of a V2 request."""
    if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), list):
        raise InvalidInput("a V2 inference request needs an 'inputs' list")
    if not body["inputs"]:
        raise InvalidInput("'inputs' must not be empty")
    tensors: dict[str, tuple[list[int], list[Any]]] = {}
    offset = 0
    for t in body["inputs"]:
        if not isinstance(t, Mapping):
            raise InvalidInput("each input must be an object with name, shape, datatype, data")
        name, shape, datatype = t.get("name"), t.get("shape"), t.get("datatype")
        if not isinstance(name, str):
            raise InvalidInput("an input has no 'name'")
        if not (
            isinstance(shape, list)
            and shape
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise InvalidInput(f"input {name!r}: 'shape' must be a list of non-negative integers")
        if datatype not in V2_TYPES:
            raise InvalidInput(
                f"input {name!r}: unknown datatype {datatype!r}",
                hint=f"use one of {', '.join(V2_TYPES)}",
            )
        count = math.prod(shape)
        params = t.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, Mapping) else None
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise InvalidInput(f"input {name!r}: binary_data_size does not match the body")
            values = _binary_values(datatype, binary[offset : offset + size], count, name)
            offset += size
        else:
            if "data" not in t:
                raise InvalidInput(f"input {name!r} has no 'data'")
            values = _flatten(t["data"])
        if len(values) != count:
            raise InvalidInput(
                f"input {name!r}: shape {shape} holds {count} values, data has {len(values)}"
            )
        _check_type(name, datatype, values)
        tensors[name] = (shape, values)
    columns = _tensors_to_columns(tensors, model)
    n = len(next(iter(columns.values())))
    outputs = body.get("outputs")
    wanted = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
            isinstance(o, Mapping) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise InvalidInput("'outputs' must be a list of objects with a 'name'")
        wanted = [o["name"] for o in outputs]
    return columns, n, wanted


def _check_type(name: str, datatype: str, values: list[Any]) -> None:
    if datatype == "BYTES":
        if not all(v is None or isinstance(v, str) for v in values):
            raise InvalidInput(f"input {name!r}: BYTES data must be strings")
    elif datatype == "BOOL":
        if not all(v is None or isinstance(v, bool) for v in values):
            raise InvalidInput(f"input {name!r}: BOOL data must be true or false")
    elif not all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
    ):
        raise InvalidInput(f"input {name!r}: {datatype} data must be numbers")


def _tensors_to_columns(
    tensors: dict[str, tuple[list[int], list[Any]]], model: ServedModel
) -> dict[str, list[Any]]:
    names = model.input_names
    if len(tensors) == 1:
        ((tname, (shape, values)),) = tensors.items()
        if tname not in names and len(shape) == 2 and shape[1] == len(names):
            # One [rows, columns] tensor in signature order.
            k = len(names)
            return {c: values[j::k] for j, c in enumerate(names)}
    missing = [c for c in names if c not in tensors]
    if missing:
        raise InvalidInput(
            f"missing input(s): {', '.join(missing)}",
            hint="send one input per feature column (see GET /v2/models/{name}) or one "
            f"[rows, {len(names)}] tensor",
        )
    columns: dict[str, list[Any]] = {}
    rows = None
    for c in names:
        shape, values = tensors[c]
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInput(f"input {c!r}: shape must be [rows] or [rows, 1], got {shape}")
        if rows is None:
            rows = shape[0]
        elif shape[0] != rows:
            raise InvalidInput(f"input {c!r} has {shape[0]} rows, others have {rows}")
        columns[c] = values
    if not rows:
        raise InvalidInput("the inputs hold no rows")
    return columns


def v2_outputs(
    model: ServedModel, pred: Prediction, wanted: list[str] | None
) -> list[dict[str, Any]]:
    """The output tensors of a V2 response."""
    n = len(pred.values)
    available: dict[str, dict[str, Any]] = {
        "predict": {
            "name": "predict",
            "datatype": _label_type(model),
            "shape": [n],
            "data": _plain(pred.values),
        }
    }
    if pred.proba is not None:
        k = pred.proba.shape[1]
        available["predict_proba"] = {
            "name": "predict_proba",
            "datatype": "FP64",
            "shape": [n, k],
            "data": pred.proba.ravel().tolist(),
        }
    if wanted is None:
        return list(available.values())
    unknown = [w for w in wanted if w not in available]
    if unknown:
        raise InvalidInput(
            f"unknown output(s): {', '.join(unknown)}", hint=f"outputs: {', '.join(available)}"
        )
    return [available[w] for w in wanted]
