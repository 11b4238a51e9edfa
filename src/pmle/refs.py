"""Resolve what a user typed (`churn@2`, `dataset:churn`, `model:churn@champion`, `#17`) to a
lineage artifact id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from pmle.workspace import Workspace

KINDS = ("dataset", "model")


def resolve_artifact(ws: Workspace, text: str) -> int:
    """The lineage artifact id for a dataset or model reference, or a raw `#ID`."""
    text = text.strip()
    if text.startswith("#") or text.isdigit():
        raw = text.lstrip("#")
        if not raw.isdigit():
            raise InvalidInput(f"bad artifact id {text!r}", hint="write #ID, e.g. #12")
        return ws.lineage.artifact(int(raw)).id
    kind, sep, ref = text.partition(":")
    if sep and kind not in KINDS:
        raise InvalidInput(
            f"unknown kind {kind!r} in {text!r}", hint="use dataset:REF or model:REF"
        )
    kinds = [kind] if sep else list(KINDS)
    ref = ref if sep else text
    for k in kinds:
        try:
            found = ws.datasets.get(ref) if k == "dataset" else ws.models.get(ref)
        except NotFound:
            continue
        except InvalidInput:
            if len(kinds) == 1:
                raise
            continue
        if found.lineage_artifact_id is None:
            raise NotFound(f"{k} {ref} has no lineage record")
        return found.lineage_artifact_id
    raise NotFound(
        f"no dataset or model matches {text!r}",
        hint="list them with `pmle data list` and `pmle models list`",
    )
