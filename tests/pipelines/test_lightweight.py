"""lightweight_function: the function, source and packages a KFP Python component embeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.ir import ContainerSpec, Executor, load_pipeline
from pmle.pipelines.lightweight import lightweight_function

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "pipelines" / "examples"
RUNNER = (
    'program_path=$(mktemp -d)\n\nprintf "%s" "$0" > "$program_path/ephemeral_component.py"\n'
    "_KFP_RUNTIME=true python3 -m kfp.dsl.executor_main --component_module_path "
    '"$program_path/ephemeral_component.py" "$@"\n'
)
SOURCE = "\nimport kfp\nfrom kfp import dsl\n\ndef f(x: int) -> int:\n    return x\n"
ARGS = ("--executor_input", "{{$}}", "--function_to_execute", "f")


def _executor(command: tuple[str, ...], args: tuple[str, ...] = ARGS) -> Executor:
    return Executor("exec-f", "container", container=ContainerSpec("python:3.11", command, args))


def test_the_examples() -> None:
    p1 = load_pipeline(EXAMPLES / "p1_types_artifacts.yaml")
    train = lightweight_function(p1.executors["exec-train"])
    assert train is not None
    assert train.function_name == "train"
    assert train.packages_to_install == ["numpy"]
    assert "def train(ds: Input[Dataset], lr: float" in train.source
    container = p1.executors["exec-train"].container
    assert container is not None and train.source == container.command[-1]
    make = lightweight_function(p1.executors["exec-make-data"])
    assert make is not None and make.packages_to_install == [] and make.function_name == "make_data"
    p3 = load_pipeline(EXAMPLES / "p3_misc.yaml")
    assert lightweight_function(p3.executors["exec-shell-step"]) is None  # container component
    assert lightweight_function(p3.executors["exec-echo-uri"]) is None
    assert lightweight_function(p3.executors["exec-importer"]) is None
    add = lightweight_function(p3.executors["exec-add-2-2"])
    assert add is not None and add.function_name == "add" and "return a + b" in add.source


def test_packages_with_index_urls_and_kfp_pinned_by_the_user() -> None:
    bootstrap = (
        '\nif ! [ -x "$(command -v pip)" ]; then\n    python3 -m ensurepip\nfi\n\n'
        "PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install --quiet --no-warn-script-location "
        "--index-url https://pypi.example/simple --trusted-host pypi.example "
        "--extra-index-url https://more.example/simple 'pandas>=2' 'scikit-learn==1.5.0' "
        '\'kfp==2.17.0\' && "$0" "$@"\n'
    )
    found = lightweight_function(_executor(("sh", "-c", bootstrap, "sh", "-ec", RUNNER, SOURCE)))
    assert found is not None
    assert found.packages_to_install == ["pandas>=2", "scikit-learn==1.5.0", "kfp==2.17.0"]
    assert found.source == SOURCE


def test_no_bootstrap_when_nothing_is_installed() -> None:
    found = lightweight_function(_executor(("sh", "-ec", RUNNER, SOURCE)))
    assert found == ("f", SOURCE, [])


def test_containerized_python_component_has_no_embedded_source() -> None:
    executor = _executor(("python3", "-m", "kfp.dsl.executor_main"))
    assert lightweight_function(executor) is None


def test_embedded_source_without_a_function_name_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="names no function"):
        lightweight_function(_executor(("sh", "-ec", RUNNER, SOURCE), args=("--executor_input",)))
