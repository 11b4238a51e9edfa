"""Registering a pipeline's Model artifact in the workspace registry.

The new version's lineage input is the pipeline artifact itself (the lineage node the runner
records for the Model artifact's URI once the training task finished), so the walk upstream
from the version goes through the pipeline's tasks to the dataset. When the runner has not
recorded it (an older runner, or the artifact came from elsewhere), the dataset version named
in the artifact's `pmle_inputs` is linked directly instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmle.models.registry import ModelVersion
    from pmle.workspace import Workspace

__all__ = ["register_step"]


def register_step(
    ws: Workspace,
    model_dir: str | Path,
    model_name: str,
    *,
    model_uri: str = "",
    model_metadata: Mapping[str, Any] | None = None,
    alias: str = "champion",
    description: str = "",
) -> ModelVersion:
    """Register the pmle model folder `model_dir` as a new version of `model_name`, with
    `alias` (none when empty); see the module docstring for its lineage."""
    from pmle.pipelines.lineage import INPUTS_KEY, artifact_id_for_uri

    meta = dict(model_metadata or {})
    found = None
    if model_uri:
        with ws.engine.connect() as conn:
            found = artifact_id_for_uri(conn, model_uri)
    inputs = (
        [found]
        if found is not None
        else [int(i) for i in meta.get(INPUTS_KEY) or () if isinstance(i, int | float)]
    )
    data = meta.get("dataset") or meta.get("data_path") or "a pipeline artifact"
    return ws.models.register(
        model_name,
        Path(model_dir),
        description=description or f"pipeline AutoML on {data} → {meta.get('target', '?')}",
        inputs=inputs or None,
        aliases=[alias] if alias else (),
        execution="Register",
        execution_properties={"pipeline_artifact": model_uri} if model_uri else None,
    )
