"""A Python client for a running pmle server: `pmle.Endpoint("churn").predict(rows)`.

It speaks the Vertex AI route, so the same code works against any server of that protocol.
Errors come back as pmle's own exceptions (400 → InvalidInput, 404 → NotFound, ...).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pmle.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PmleError,
    ServerUnavailable,
    Unauthenticated,
)

DEFAULT_URL = "http://127.0.0.1:8080"
_BY_STATUS: dict[int, type[PmleError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    404: NotFound,
    409: Conflict,
    413: InvalidInput,
}


@dataclass(frozen=True)
class PredictResponse:
    """Predictions and which deployed model made them."""

    predictions: list[Any]
    deployed_model_id: str
    model: str
    model_version_id: str


def _rows(instances: Any) -> list[Any]:
    """Instances from a DataFrame (records, NaN → null), a dict or a list."""
    if hasattr(instances, "to_dict") and hasattr(instances, "columns"):
        import pandas as pd

        frame = instances.astype(object).where(pd.notna(instances), None)
        return list(frame.to_dict(orient="records"))
    if isinstance(instances, dict):
        return [instances]
    if isinstance(instances, list):
        return instances
    raise InvalidInput(
        f"cannot send {type(instances).__name__} as instances",
        hint="pass a list of row dicts, one dict, or a pandas DataFrame",
    )


class Endpoint:
    """An endpoint on a pmle server (default `PMLE_SERVER_URL` or http://127.0.0.1:8080)."""

    def __init__(
        self,
        name: str,
        url: str | None = None,
        *,
        token: str | None = None,
        project: str = "local",
        location: str = "local",
        timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.url = (url or os.environ.get("PMLE_SERVER_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("PMLE_TOKEN")
        self.timeout = timeout
        self._base = f"{self.url}/v1/projects/{project}/locations/{location}/endpoints/{name}"

    def __repr__(self) -> str:
        return f"Endpoint({self.name!r}, url={self.url!r})"

    def predict(self, instances: Any, parameters: dict[str, Any] | None = None) -> PredictResponse:
        """Predict rows: a list of dicts (column → value), one dict, or a DataFrame."""
        body: dict[str, Any] = {"instances": _rows(instances)}
        if parameters:
            body["parameters"] = parameters
        data = self._post(f"{self._base}:predict", body)
        return PredictResponse(
            predictions=data.get("predictions", []),
            deployed_model_id=str(data.get("deployedModelId", "")),
            model=str(data.get("model", "")),
            model_version_id=str(data.get("modelVersionId", "")),
        )

    def describe(self) -> dict[str, Any]:
        """The endpoint's deployed models, split and counters, as the server reports them."""
        return self._request("GET", self._base, None)

    def _post(self, url: str, body: Any) -> dict[str, Any]:
        return self._request("POST", url, body)

    def _request(self, method: str, url: str, body: Any) -> dict[str, Any]:
        import urllib.error
        import urllib.request

        import orjson

        data = None if body is None else orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return dict(orjson.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            raise _error(exc.code, exc.read())
        except (urllib.error.URLError, OSError) as exc:
            raise ServerUnavailable(
                f"no pmle server answered at {self.url}: {getattr(exc, 'reason', exc)}",
                hint="start one with `pmle serve`, or pass url= / set PMLE_SERVER_URL",
            )


def _error(status: int, payload: bytes) -> PmleError:
    import orjson

    message = payload.decode("utf-8", errors="replace")
    try:
        body = orjson.loads(payload)
        err = body.get("error")
        message = err.get("message", message) if isinstance(err, dict) else str(err)
    except (orjson.JSONDecodeError, AttributeError):
        pass
    cls = _BY_STATUS.get(status, PmleError)
    exc = cls(f"server answered {status}: {message}")
    if cls is PmleError:
        exc.status = status
    return exc
