"""Serving: endpoints with traffic splits, the online prediction path, batch prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "BatchPredictionResult",
    "DeployedModel",
    "Endpoint",
    "EndpointInfo",
    "Endpoints",
    "batch_predict",
]

if TYPE_CHECKING:
    from pmle.serving.batch import BatchPredictionResult, batch_predict
    from pmle.serving.client import Endpoint
    from pmle.serving.endpoints import DeployedModel, EndpointInfo, Endpoints

__getattr__ = lazy_exports(
    __name__,
    {
        "BatchPredictionResult": "batch",
        "batch_predict": "batch",
        "Endpoint": "client",
        "DeployedModel": "endpoints",
        "EndpointInfo": "endpoints",
        "Endpoints": "endpoints",
    },
)
