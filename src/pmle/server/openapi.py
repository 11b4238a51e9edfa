"""The server's OpenAPI 3.0 document (hand-written: the hot path has no framework to derive
it from)."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "error", "content": {"application/json": {"schema": {"type": "object"}}}}
_OK = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}

_INSTANCES: dict[str, Any] = {
    "type": "object",
    "required": ["instances"],
    "properties": {
        "instances": {
            "type": "array",
            "minItems": 1,
            "items": {"oneOf": [{"type": "object"}, {"type": "array"}]},
        },
        "parameters": {"type": "object"},
    },
}

_EXPLAIN = {
    "type": "object",
    "required": ["instances"],
    "properties": {
        **_INSTANCES["properties"],
        "deployedModelId": {"type": "string"},
        "explanationSpecOverride": {
            "type": "object",
            "properties": {
                "parameters": {
                    "type": "object",
                    "properties": {
                        "sampledShapleyAttribution": {
                            "type": "object",
                            "properties": {
                                "pathCount": {"type": "integer", "minimum": 1, "maximum": 50}
                            },
                        },
                        "treeShapAttribution": {"type": "object"},
                        "topK": {"type": "integer", "minimum": 1},
                        "outputIndices": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "integer", "minimum": 0},
                        },
                    },
                }
            },
        },
    },
}

_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {
            "type": "string",
            "enum": [
                "BOOL",
                "INT8",
                "INT16",
                "INT32",
                "INT64",
                "UINT8",
                "UINT16",
                "UINT32",
                "UINT64",
                "FP16",
                "FP32",
                "FP64",
                "BYTES",
            ],
        },
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
}

_INFER = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": _TENSOR},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
            },
        },
    },
}


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _op(
    summary: str, *params: str, body: dict[str, Any] | None = None, auth: bool = False
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [_param(p) for p in params],
        "responses": {
            "200": _OK,
            "400": _ERROR,
            "401": _ERROR,
            "404": _ERROR,
            "409": _ERROR,
            "413": _ERROR,
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if auth:
        op["security"] = [{"bearer": []}]
    return op


def document() -> dict[str, Any]:
    """The OpenAPI document served at `/openapi.json`."""
    from pmle import __version__

    vx = "/v1/projects/{project}/locations/{location}/endpoints"
    pl = ("project", "location")
    return {
        "openapi": "3.0.3",
        "info": {"title": "pmle prediction server", "version": __version__},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/health": {"get": _op("Ready when the deployed models are loaded")},
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "text",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/v2": {"get": _op("Server metadata (Open Inference Protocol V2)")},
            "/v2/health/live": {"get": _op("Liveness")},
            "/v2/health/ready": {"get": _op("Readiness")},
            "/v2/models/{model}": {"get": _op("Model metadata", "model")},
            "/v2/models/{model}/ready": {"get": _op("Model readiness", "model")},
            "/v2/models/{model}/infer": {"post": _op("Inference", "model", body=_INFER)},
            "/v2/models/{model}/versions/{version}": {
                "get": _op("Model version metadata", "model", "version")
            },
            "/v2/models/{model}/versions/{version}/ready": {
                "get": _op("Model version readiness", "model", "version")
            },
            "/v2/models/{model}/versions/{version}/infer": {
                "post": _op("Inference on one deployed model", "model", "version", body=_INFER)
            },
            "/v1/models/{model}:predict": {
                "post": _op("KServe V1 prediction", "model", body=_INSTANCES)
            },
            vx: {
                "get": _op("List endpoints", *pl),
                "post": _op(
                    "Create an endpoint",
                    *pl,
                    body={
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "description": {"type": "string"},
                        },
                    },
                    auth=True,
                ),
            },
            vx + "/{endpoint}": {
                "get": _op("Describe an endpoint", *pl, "endpoint"),
                "patch": _op(
                    "Change the traffic split, description or logging rate",
                    *pl,
                    "endpoint",
                    body={
                        "type": "object",
                        "properties": {
                            "trafficSplit": {
                                "type": "object",
                                "additionalProperties": {"type": "integer"},
                            },
                            "description": {"type": "string"},
                            "requestResponseLogging": {
                                "type": "object",
                                "properties": {
                                    "samplingRate": {"type": "number", "minimum": 0, "maximum": 1}
                                },
                            },
                        },
                    },
                    auth=True,
                ),
                "delete": _op("Delete an endpoint", *pl, "endpoint", auth=True),
            },
            vx + "/{endpoint}:predict": {
                "post": _op("Vertex AI online prediction", *pl, "endpoint", body=_INSTANCES)
            },
            vx + "/{endpoint}:rawPredict": {
                "post": _op("Vertex AI raw prediction", *pl, "endpoint", body=_INSTANCES)
            },
            vx + "/{endpoint}:explain": {
                "post": _op(
                    "Vertex AI online explanation (feature attributions)",
                    *pl,
                    "endpoint",
                    body=_EXPLAIN,
                )
            },
            vx + "/{endpoint}:deployModel": {
                "post": _op(
                    "Deploy a model version",
                    *pl,
                    "endpoint",
                    body={
                        "type": "object",
                        "required": ["deployedModel"],
                        "properties": {
                            "deployedModel": {
                                "type": "object",
                                "required": ["model"],
                                "properties": {
                                    "model": {"type": "string"},
                                    "maxBatchSize": {"type": "integer", "minimum": 1},
                                    "maxWaitMs": {"type": "number", "minimum": 0},
                                    "compile": {"type": "boolean"},
                                },
                            },
                            "trafficPercent": {"type": "integer", "minimum": 0, "maximum": 100},
                            "trafficSplit": {
                                "type": "object",
                                "additionalProperties": {"type": "integer"},
                            },
                        },
                    },
                    auth=True,
                )
            },
            vx + "/{endpoint}:undeployModel": {
                "post": _op(
                    "Undeploy a model",
                    *pl,
                    "endpoint",
                    body={
                        "type": "object",
                        "required": ["deployedModelId"],
                        "properties": {"deployedModelId": {"type": "string"}},
                    },
                    auth=True,
                )
            },
        },
    }
