"""Task outputs read back from disk, and the packages_to_install check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.executor_input import build_executor_input
from pmle.pipelines.ir import ArtifactSpec, Component, Interface, ParameterSpec
from pmle.pipelines.tasks import (
    TaskRequest,
    TaskState,
    check_packages,
    collect_outputs,
    prepare_outputs,
)

TYPES = {
    "i": "NUMBER_INTEGER",
    "f": "NUMBER_DOUBLE",
    "s": "STRING",
    "b": "BOOLEAN",
    "l": "LIST",
    "d": "STRUCT",
}


def component() -> Component:
    return Component(
        "comp-out",
        outputs=Interface(
            parameters={name: ParameterSpec(name, t) for name, t in TYPES.items()},
            artifacts={
                "model": ArtifactSpec("model", "system.Model", "0.0.1"),
                "metrics": ArtifactSpec("metrics", "system.Metrics", "0.0.1"),
            },
        ),
        executor_label="exec-out",
    )


def write(ei: dict[str, Any], name: str, text: str) -> None:
    path = Path(ei["outputs"]["parameters"][name]["outputFile"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_files_and_executor_output(tmp_path: Path) -> None:
    comp = component()
    ei = build_executor_input(comp, None, {}, {}, tmp_path)
    prepare_outputs(ei)
    assert (tmp_path / "parameters").is_dir() and (tmp_path / "artifacts").is_dir()
    for name, text in {"i": "7\n", "f": "2", "s": " raw \n", "b": "False", "l": "[1.0, 2]"}.items():
        write(ei, name, text)
    write(ei, "d", '{"ignored": true}')  # executor_output.json wins over the file
    executor_output = {
        "parameterValues": {"d": {"a": 1.0}},
        "artifacts": {
            "metrics": {"artifacts": [{"name": "metrics", "uri": "", "metadata": {"acc": 0.9}}]},
            "model": {"artifacts": [{"name": "m", "uri": "file:///elsewhere/m", "metadata": {}}]},
        },
    }
    Path(ei["outputs"]["outputFile"]).write_text(json.dumps(executor_output))
    params, arts, raw = collect_outputs(comp, ei)
    assert params == {"i": 7, "f": 2.0, "s": " raw \n", "b": False, "l": [1, 2], "d": {"a": 1}}
    assert type(params["f"]) is float
    assert raw == executor_output
    assert arts["metrics"].metadata == {"acc": 0.9}
    assert arts["metrics"].uri == str(tmp_path / "artifacts" / "metrics")  # kept from the input
    assert arts["model"].uri == "/elsewhere/m" and arts["model"].name == "m"
    assert arts["model"].schema_title == "system.Model"


def test_stale_outputs_are_removed(tmp_path: Path) -> None:
    comp = component()
    ei = build_executor_input(comp, None, {}, {}, tmp_path)
    write(ei, "i", "1")
    Path(ei["outputs"]["outputFile"]).write_text("{}")
    prepare_outputs(ei)
    assert not Path(ei["outputs"]["outputFile"]).exists()
    assert not Path(ei["outputs"]["parameters"]["i"]["outputFile"]).exists()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("i", "1.5", "must be an integer"),
        ("l", "not json", "is not valid"),
        ("b", "yes", "is not valid"),
    ],
)
def test_bad_output_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    comp = component()
    ei = build_executor_input(comp, None, {}, {}, tmp_path)
    for other, good in {"i": "1", "f": "1", "s": "", "b": "true", "l": "[]", "d": "{}"}.items():
        write(ei, other, good)
    write(ei, name, text)
    with pytest.raises(InvalidInput, match=message):
        collect_outputs(comp, ei)


def test_missing_output_and_bad_executor_output(tmp_path: Path) -> None:
    comp = component()
    ei = build_executor_input(comp, None, {}, {}, tmp_path)
    with pytest.raises(InvalidInput, match="did not write its output parameter 'i'"):
        collect_outputs(comp, ei)
    Path(ei["outputs"]["outputFile"]).write_text("[1]")
    with pytest.raises(InvalidInput, match="not a JSON object"):
        collect_outputs(comp, ei)


def test_check_packages() -> None:
    missing, warnings = check_packages(
        [
            "pyyaml",
            "PyYAML>=1",
            "pmle-surely-missing-package",
            "pyyaml==0.0.1",
            'pmle-missing-on-old-pythons; python_version < "3"',
            "git+https://example.com/repo.git",
        ]
    )
    assert missing == ["pmle-surely-missing-package"]
    assert any("'pyyaml==0.0.1' is pinned" in w for w in warnings)
    assert any("git+https://example.com/repo.git" in w for w in warnings)
    assert len(warnings) == 2


def test_request_defaults(tmp_path: Path) -> None:
    comp = component()
    ei = build_executor_input(comp, None, {}, {}, tmp_path / "t")
    req = TaskRequest("t", comp, None, ei)  # type: ignore[arg-type]
    assert req.output_dir == tmp_path / "t"
    assert req.log_file == tmp_path / "t" / "task.log"
    assert TaskState.FAILED == "FAILED"
