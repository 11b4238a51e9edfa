"""The model registry: versions, Vertex AI alias semantics, lookups, deletion, lineage."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.models import ModelVersion, save_model
from pmle.workspace import Workspace


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, lgbm_binary: Any, frame: pd.DataFrame) -> Path:
    """A saved model folder, registered by path (no refit, no resave)."""
    return save_model(lgbm_binary, tmp_path_factory.mktemp("saved") / "m", input_example=frame)


def _register(ws: Workspace, folder: Path, n: int, name: str = "churn") -> list[ModelVersion]:
    return [ws.models.register(name, folder) for _ in range(n)]


def test_versions_increment_and_first_gets_default(ws: Workspace, folder: Path) -> None:
    v1, v2, v3 = _register(ws, folder, 3)
    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
    assert [v.ref for v in (v1, v2, v3)] == ["churn@1", "churn@2", "churn@3"]
    assert v1.aliases == ("default",)
    assert v2.aliases == () and v3.aliases == ()
    assert ws.models.get("churn").version == 1


def test_register_in_memory_model(ws: Workspace, lgbm_binary, frame, frame_cat) -> None:
    mv = ws.models.register(
        "churn",
        lgbm_binary,
        input_example=frame.head(),
        metrics={"auc": 0.9},
        description="first try",
    )
    assert (mv.flavor, mv.task, mv.description) == ("lightgbm", "binary", "first try")
    assert mv.manifest["metrics"] == {"auc": 0.9}
    assert ws.artifacts.exists(mv.tree_key)
    assert mv.lineage_artifact_id is not None
    loaded = ws.models.load("churn@default")
    assert np.array_equal(loaded.predict_proba(frame), lgbm_binary.predict_proba(frame_cat))
    assert ws.models.path("churn").joinpath("model.txt").is_file()


def test_register_from_folder_refuses_extras(ws: Workspace, folder: Path, frame) -> None:
    with pytest.raises(InvalidInput, match="input_example, metrics cannot be given"):
        ws.models.register("churn", folder, input_example=frame, metrics={"a": 1})
    with pytest.raises(InvalidInput, match="not a pmle model folder"):
        ws.models.register("churn", folder.parent)
    assert ws.models.list() == []


def test_default_moves_and_stays_unique(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 3)
    moved = ws.models.set_alias("churn@3", "default")
    assert moved.aliases == ("default",)
    holders = [v.version for v in ws.models.versions("churn") if "default" in v.aliases]
    assert holders == [3]
    assert ws.models.get("churn").version == 3


def test_alias_is_unique_within_a_model(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 2)
    _register(ws, folder, 1, name="other")
    ws.models.set_alias("churn@1", "champion")
    ws.models.set_alias("other@1", "champion")  # another model may use the same alias
    assert ws.models.get("churn@champion").version == 1
    ws.models.set_alias("churn@2", "champion")  # moves it
    aliases = {v.version: v.aliases for v in ws.models.versions("churn")}
    assert aliases == {1: ("default",), 2: ("champion",)}
    assert ws.models.get("other@champion").ref == "other@1"
    # Setting an alias through another alias works too.
    assert ws.models.set_alias("churn@champion", "challenger").aliases == ("challenger", "champion")


def test_register_with_aliases(ws: Workspace, folder: Path) -> None:
    v1 = ws.models.register("churn", folder, aliases=["champion"])
    assert v1.aliases == ("default", "champion")
    v2 = ws.models.register("churn", folder, aliases=["champion", "default"])
    assert v2.aliases == ("default", "champion")
    assert ws.models.get("churn@1").aliases == ()


@pytest.mark.parametrize("alias", ["3", "Champion", "-x", "with space", ""])
def test_invalid_aliases(ws: Workspace, folder: Path, alias: str) -> None:
    _register(ws, folder, 1)
    with pytest.raises(InvalidInput):
        ws.models.set_alias("churn@1", alias)


def test_latest_is_reserved_and_resolves_to_newest(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 3)
    with pytest.raises(InvalidInput, match="reserved"):
        ws.models.set_alias("churn@1", "latest")
    with pytest.raises(InvalidInput, match="reserved"):
        ws.models.register("churn", folder, aliases=["latest"])
    assert ws.models.get("churn@latest").version == 3
    ws.models.delete_version("churn@3")
    assert ws.models.get("churn@latest").version == 2


def test_get_by_name_version_and_alias(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 3)
    ws.models.set_alias("churn@2", "champion")
    assert ws.models.get("churn").ref == "churn@1"
    assert ws.models.get("churn@default").ref == "churn@1"
    assert ws.models.get("churn@3").ref == "churn@3"
    assert ws.models.get("churn@champion").ref == "churn@2"
    assert ws.models.get(" churn@2 ").aliases == ("champion",)


def test_not_found_messages_say_what_exists(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 2)
    ws.models.set_alias("churn@2", "champion")
    with pytest.raises(NotFound, match="no model named 'chrun'") as info:
        ws.models.get("chrun")
    assert "did you mean churn" in (info.value.hint or "")
    with pytest.raises(NotFound, match="has no version 7") as info:
        ws.models.get("churn@7")
    assert info.value.hint == "its versions: 1, 2"
    with pytest.raises(NotFound, match="has no alias 'staging'") as info:
        ws.models.get("churn@staging")
    assert "champion → 2" in (info.value.hint or "") and "default → 1" in (info.value.hint or "")
    with pytest.raises(InvalidInput):
        ws.models.get("churn@")


def test_not_found_in_an_empty_registry(ws: Workspace) -> None:
    with pytest.raises(NotFound) as info:
        ws.models.get("churn")
    assert "no models are registered" in (info.value.hint or "")
    with pytest.raises(NotFound):
        ws.models.versions("churn")
    with pytest.raises(NotFound):
        ws.models.delete_model("churn")


def test_delete_alias(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 2)
    ws.models.set_alias("churn@2", "champion")
    ws.models.delete_alias("churn", "champion")
    with pytest.raises(NotFound, match="no alias 'champion'"):
        ws.models.get("churn@champion")
    with pytest.raises(NotFound, match="no alias 'champion'"):
        ws.models.delete_alias("churn", "champion")
    with pytest.raises(Conflict, match="cannot be deleted") as info:
        ws.models.delete_alias("churn", "default")
    assert "move it" in (info.value.hint or "")
    with pytest.raises(InvalidInput, match="model name"):
        ws.models.delete_alias("churn@2", "champion")
    assert ws.models.get("churn").version == 1


def test_delete_version(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 3)
    ws.models.set_alias("churn@2", "champion")
    gone = ws.models.delete_version("churn@champion")
    assert gone.ref == "churn@2"
    assert [v.version for v in ws.models.versions("churn")] == [1, 3]
    with pytest.raises(NotFound):
        ws.models.get("churn@champion")  # its aliases went with it
    # Numbers are never reused: the next version is 4, not 2 or 3.
    assert ws.models.register("churn", folder).version == 4


def test_delete_default_version_refused(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 2)
    with pytest.raises(Conflict, match="holds the alias 'default'") as info:
        ws.models.delete_version("churn@1")
    assert "move it" in (info.value.hint or "")
    ws.models.delete_version("churn@2")
    with pytest.raises(Conflict, match="only version") as info:
        ws.models.delete_version("churn@1")
    assert "pmle models delete churn --yes" in (info.value.hint or "")


def test_delete_model(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 2)
    _register(ws, folder, 1, name="other")
    assert ws.models.delete_model("churn") == 2
    assert [m.name for m in ws.models.list()] == ["other"]
    with pytest.raises(NotFound):
        ws.models.get("churn")
    again = ws.models.register("churn", folder)
    assert (again.version, again.aliases) == (3, ("default",))
    # Deleted versions stay in lineage, flagged.
    old = ws.lineage.find_artifacts("Model", "churn@1")
    assert len(old) == 1 and "deleted_at" in old[0].properties


def test_list_and_versions(ws: Workspace, folder: Path) -> None:
    assert ws.models.list() == []
    _register(ws, folder, 3, name="churn")
    _register(ws, folder, 1, name="alpha")
    ws.models.set_alias("churn@3", "champion")
    models = ws.models.list()
    assert [m.name for m in models] == ["alpha", "churn"]
    churn = models[1]
    assert (churn.version_count, churn.default_version, churn.latest_version) == (3, 1, 3)
    assert churn.aliases == {"champion": 3, "default": 1}
    assert churn.to_dict()["versions"] == 3
    versions = ws.models.versions("churn")
    assert [v.version for v in versions] == [1, 2, 3]
    assert versions[2].to_dict()["aliases"] == ["champion"]


def test_lineage_links_inputs_to_the_model(ws: Workspace, folder: Path) -> None:
    with ws.engine.begin() as c:
        data_id = ws.lineage.add_artifact(c, "Dataset", "d@1")
    mv = ws.models.register("churn", folder, inputs=[data_id])
    assert mv.lineage_artifact_id is not None
    node = ws.lineage.artifact(mv.lineage_artifact_id)
    assert (node.type, node.name, node.uri) == (
        "Model",
        "churn@1",
        "pmle://models/churn/versions/1",
    )
    up = ws.lineage.upstream(mv.lineage_artifact_id)
    assert data_id in up.artifacts
    [execution] = up.producers_of(mv.lineage_artifact_id)
    assert execution.type == "Register"
    assert [a.name for a in up.inputs_of(execution.id)] == ["d@1"]
    # Without inputs there is a Model artifact but no execution.
    v2 = ws.models.register("churn", folder)
    assert v2.lineage_artifact_id is not None
    assert ws.lineage.producers(v2.lineage_artifact_id) == []


def test_in_memory_model_records_inputs_in_manifest(ws: Workspace, lgbm_binary, frame) -> None:
    with ws.engine.begin() as c:
        data_id = ws.lineage.add_artifact(c, "Dataset", "d@1", "pmle://datasets/d/versions/1")
    mv = ws.models.register("churn", lgbm_binary, input_example=frame, inputs=[data_id])
    assert mv.manifest["lineage"]["inputs"][0]["name"] == "d@1"


def test_unknown_input_registers_nothing(ws: Workspace, folder: Path) -> None:
    with pytest.raises(NotFound, match="no lineage artifact with id 999"):
        ws.models.register("churn", folder, inputs=[999])
    assert ws.models.list() == []
    assert ws.lineage.find_artifacts("Model") == []


def test_bad_names_are_refused(ws: Workspace, folder: Path) -> None:
    with pytest.raises(InvalidInput, match="invalid model name"):
        ws.models.register("9lives", folder)
    with pytest.raises(InvalidInput, match="invalid alias"):
        ws.models.register("churn", folder, aliases=["Bad"])
    assert ws.models.list() == []


def test_concurrent_registers_get_distinct_versions(ws: Workspace, folder: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(lambda _: ws.models.register("churn", folder).version, range(8)))
    assert sorted(versions) == list(range(1, 9))
    assert [v.version for v in ws.models.versions("churn") if "default" in v.aliases] == [1]


def test_latest_versions_of_many_models_at_once(ws: Workspace, folder: Path) -> None:
    _register(ws, folder, 3, "churn")
    _register(ws, folder, 1, "value")
    ws.models.set_alias("churn@3", "champion")
    ws.models.set_alias("churn@3", "blue")
    latest = ws.models.latest_versions(["churn", "value", "nope", "churn"])
    assert set(latest) == {"churn", "value"}
    assert latest["churn"].ref == "churn@3" and latest["churn"].aliases == ("blue", "champion")
    assert latest["value"].ref == "value@1" and latest["value"].aliases == ("default",)
    assert latest["churn"] == ws.models.get("churn@latest")
    assert ws.models.latest_versions([]) == {}
