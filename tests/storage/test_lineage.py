from __future__ import annotations

import pytest

from pmle.errors import NotFound
from pmle.workspace import Workspace


def _chain(ws: Workspace) -> dict[str, int]:
    """file -> Import -> raw -> Split -> train, test ; train -> Train -> model."""
    lin = ws.lineage
    with ws.engine.begin() as c:
        ids = {
            "file": lin.add_artifact(c, "File", "raw.csv", "file:///raw.csv"),
            "raw": lin.add_artifact(c, "Dataset", "raw@1"),
            "train": lin.add_artifact(c, "Dataset", "raw_train@1"),
            "test": lin.add_artifact(c, "Dataset", "raw_test@1"),
            "model": lin.add_artifact(c, "Model", "m@1"),
        }
        ids["import"] = lin.record_execution(
            c, "Import", inputs=[(ids["file"], "source")], outputs=[(ids["raw"], "dataset")]
        )
        ids["split"] = lin.record_execution(
            c,
            "Split",
            inputs=[(ids["raw"], "dataset")],
            outputs=[(ids["train"], "train"), (ids["test"], "test")],
        )
        ids["fit"] = lin.record_execution(
            c, "Train", inputs=[(ids["train"], "data")], outputs=[(ids["model"], "model")]
        )
    return ids


def test_what_produced_an_artifact(ws: Workspace) -> None:
    ids = _chain(ws)
    up = ws.lineage.upstream(ids["model"])
    assert set(up.artifacts) == {ids["model"], ids["train"], ids["raw"], ids["file"]}
    assert set(up.executions) == {ids["fit"], ids["split"], ids["import"]}
    assert ids["test"] not in up.artifacts  # a sibling, not a source
    assert [x.id for x in ws.lineage.producers(ids["train"])] == [ids["split"]]
    assert [a.id for a in up.inputs_of(ids["split"])] == [ids["raw"]]


def test_what_was_derived_from_an_artifact(ws: Workspace) -> None:
    ids = _chain(ws)
    down = ws.lineage.downstream(ids["raw"])
    assert set(down.artifacts) == {ids["raw"], ids["train"], ids["test"], ids["model"]}
    assert ids["file"] not in down.artifacts
    assert [x.id for x in ws.lineage.consumers(ids["raw"])] == [ids["split"]]
    one = ws.lineage.downstream(ids["raw"], max_depth=1)
    assert set(one.artifacts) == {ids["raw"], ids["train"], ids["test"]}


def test_graph_serialises_and_unknown_ids_fail(ws: Workspace) -> None:
    ids = _chain(ws)
    d = ws.lineage.upstream(ids["train"]).to_dict()
    assert {a["name"] for a in d["artifacts"]} == {"raw_train@1", "raw@1", "raw.csv"}
    assert {(e["type"], e["path"]) for e in d["events"]} >= {
        ("OUTPUT", "train"),
        ("INPUT", "source"),
    }
    with pytest.raises(NotFound):
        ws.lineage.upstream(10_000)
    assert [a.name for a in ws.lineage.find_artifacts(type="Model")] == ["m@1"]


def test_contexts_group_artifacts_and_executions(ws: Workspace) -> None:
    ids = _chain(ws)
    with ws.engine.begin() as c:
        ctx = ws.lineage.attribute(c, "Experiment", "exp-1", [ids["model"]], [ids["fit"]])
        again = ws.lineage.attribute(c, "Experiment", "exp-1", [ids["model"]], [ids["fit"]])
    assert ctx == again
