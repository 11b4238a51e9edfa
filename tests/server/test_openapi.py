"""The OpenAPI document is valid and a schemathesis fuzz run finds no 5xx."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pmle.workspace import Workspace


def _fuzz(schema: str, url: str, *extra: str) -> str:
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", schema, "-u", url,
        "-c", "not_a_server_error", "-n", "15", "--generation-deterministic", *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout.split("Test cases:")[-1]
    return proc.stdout


def test_document_lists_the_routes(server: str) -> None:
    doc = httpx.get(f"{server}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert "/v2/models/{model}/infer" in paths and "/v1/models/{model}:predict" in paths
    assert "/v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict" in paths


@pytest.mark.slow
def test_fuzzing_finds_no_server_errors(server: str, deployed: Workspace, tmp_path: Path) -> None:
    doc = httpx.get(f"{server}/openapi.json").json()
    # Random path parameters mostly meet 404s; pin them to real names so that the bodies sent
    # to the real model's predict and infer routes are fuzzed too.
    real = {"model": "churn", "endpoint": "churn", "version": "1", "project": "p", "location": "l"}
    for ops in doc["paths"].values():
        for op in ops.values():
            for p in op.get("parameters", []):
                p["schema"] = {"type": "string", "enum": [real[p["name"]]]}
    pinned = tmp_path / "pinned.json"
    pinned.write_text(json.dumps(doc))
    secret = deployed.tokens.create("fuzz")
    _fuzz(f"{server}/openapi.json", server, "-H", f"Authorization: Bearer {secret}")
    _fuzz(str(pinned), server)
