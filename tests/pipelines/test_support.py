"""check_supported: what pmle refuses to run, named before a run starts."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from pmle.errors import InvalidInput
from pmle.pipelines.ir import load_pipeline, parse_pipeline
from pmle.pipelines.support import check_supported, ignored_features, unsupported_features

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "pipelines" / "examples"


@cache
def _raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())


def _edited(name: str) -> dict[str, Any]:
    return copy.deepcopy(_raw(name))


@pytest.mark.parametrize(
    "name",
    [
        "p1_types_artifacts",
        "p2_control_flow",
        "p4_linear",
        "p5_extras",
        "p7_tiny",
        "p8_oneof_artifacts",
    ],
)
def test_the_examples_are_supported(name: str) -> None:
    spec = load_pipeline(EXAMPLES / f"{name}.yaml")
    check_supported(spec)
    assert ignored_features(spec) == []


def test_an_accelerator_is_refused_unless_allowed() -> None:
    spec = load_pipeline(EXAMPLES / "p3_misc.yaml")
    with pytest.raises(InvalidInput) as err:
        check_supported(spec)
    assert "executor exec-shell-step: accelerator nvidia.com/gpu x1" in err.value.message
    assert unsupported_features(spec) == [
        "executor exec-shell-step: accelerator nvidia.com/gpu x1 (set_accelerator_type; "
        "pass allow_accelerators=True to run it without one)"
    ]
    check_supported(spec, allow_accelerators=True)


def test_the_compilers_invalid_conditions_are_refused() -> None:
    problems = unsupported_features(load_pipeline(EXAMPLES / "p6_conditions.yaml"))
    assert len(problems) == 2
    assert problems[0].startswith("task 'condition-6' in root: condition is not valid CEL")
    assert problems[1].startswith("task 'condition-7' in root: condition is not valid CEL")


def test_every_unsupported_feature_is_named_at_once() -> None:
    raw = _edited("p4_linear")
    executors = raw["deploymentSpec"]["executors"]
    executors["exec-inc-2"] = {"resolver": {"outputArtifactQueries": {}}}
    executors["exec-inc-3"]["container"]["lifecycle"] = {"preCacheCheck": {"command": ["x"]}}
    executors["exec-inc-4"]["container"]["resources"] = {"resourceCpuLimit": "lots"}
    tasks = raw["root"]["dag"]["tasks"]
    tasks["inc"]["triggerPolicy"] = {"strategy": "ANY_UPSTREAM_TASK_FAILED"}
    tasks["inc-3"]["triggerPolicy"] = {"condition": "inputs.parameter_values['nope'] == 1"}
    tasks["inc-4"]["inputs"]["parameters"]["x"] = {"mysteryValue": {"a": 1}}
    tasks["inc-5"]["inputs"]["parameters"]["x"]["parameterExpressionSelector"] = (
        "size(string_value)"
    )
    tasks["inc-5"]["retryPolicy"] = {"maxRetryCount": -1}
    tasks["inc-5"]["futureField"] = {"on": True}
    raw["components"]["comp-inc"]["inputDefinitions"]["parameters"]["cfg"] = {
        "parameterType": "TASK_CONFIG"
    }
    raw["components"]["comp-inc-2"]["outputDefinitions"]["artifacts"] = {
        "m": {"artifactType": {"schemaTitle": "google.VertexModel", "schemaVersion": "0.0.1"}}
    }
    raw["components"]["comp-inc-3"]["singlePlatformSpecs"] = [{"platform": "google_cloud"}]
    raw["schemaVersion"] = "3.0.0"
    with pytest.raises(InvalidInput) as err:
        check_supported(load_pipeline(raw))
    message = err.value.message
    for needle in (
        "schemaVersion '3.0.0'",
        "executor exec-inc-2: a resolver node (pmle runs containers and importers)",
        "executor exec-inc-3: container field 'lifecycle'",
        "CPU quantity 'lots' is not valid",
        "task 'inc' in root: trigger strategy ANY_UPSTREAM_TASK_FAILED",
        "task 'inc-3' in root: condition reads 'nope', which is not an input of the task",
        "task 'inc-4' in root: input 'x' bound by ['mysteryValue']",
        "parameterExpressionSelector 'size(string_value)'",
        "task 'inc-5' in root: retry policy",
        "task 'inc-5' in root: IR field 'futureField'",
        "component comp-inc input 'cfg': dsl.TaskConfig parameter",
        "component comp-inc-2 output 'm': artifact type google.VertexModel",
        "component comp-inc-3: platform-specific config (singlePlatformSpecs)",
    ):
        assert needle in message, needle
    assert "p4-linear" in message
    assert err.value.hint


def test_kubernetes_platform_config_is_refused_and_scheduling_hints_are_ignored() -> None:
    platform = {
        "platforms": {
            "kubernetes": {
                "deploymentSpec": {
                    "executors": {
                        "exec-inc": {
                            "secretAsEnv": [{"secretName": "s", "keyToEnv": []}],
                            "pvcMount": [{"constant": "pvc", "mountPath": "/data"}],
                            "nodeSelector": {"labels": {"pool": "gpu"}},
                            "tolerations": [{"key": "k", "operator": "Exists"}],
                        },
                        "exec-inc-2": {"unknownThing": {"x": 1}},
                    }
                },
                "pipelineConfig": {"workspace": {"size": "10Gi"}},
            }
        }
    }
    text = (
        (EXAMPLES / "p4_linear.yaml").read_text()
        + "---\n"
        + yaml.safe_dump(platform, sort_keys=False)
    )
    spec = parse_pipeline(text)
    problems = unsupported_features(spec)
    assert problems == [
        "kubernetes executor 'exec-inc': kubernetes.use_secret_as_env",
        "kubernetes executor 'exec-inc': kubernetes.mount_pvc",
        "kubernetes executor 'exec-inc-2': setting 'unknownThing'",
        "kubernetes pipelineConfig: workspace",
    ]
    assert ignored_features(spec) == [
        "kubernetes executor 'exec-inc': nodeSelector",
        "kubernetes executor 'exec-inc': tolerations",
    ]
    with pytest.raises(InvalidInput, match=r"kubernetes\.use_secret_as_env"):
        check_supported(spec)


def test_only_scheduling_hints_pass() -> None:
    platform = {
        "platforms": {
            "kubernetes": {
                "deploymentSpec": {
                    "executors": {"exec-inc": {"podMetadata": {"labels": {"team": "ml"}}}}
                }
            }
        }
    }
    text = (
        (EXAMPLES / "p4_linear.yaml").read_text()
        + "---\n"
        + yaml.safe_dump(platform, sort_keys=False)
    )
    spec = parse_pipeline(text)
    check_supported(spec)
    assert ignored_features(spec) == ["kubernetes executor 'exec-inc': podMetadata"]


def test_importer_into_a_workspace_is_refused() -> None:
    raw = _edited("p3_misc")
    raw["deploymentSpec"]["executors"]["exec-importer-2"]["importer"]["downloadToWorkspace"] = True
    problems = unsupported_features(load_pipeline(raw), allow_accelerators=True)
    assert problems == [
        "executor exec-importer-2: importer downloadToWorkspace (pipeline workspaces)"
    ]


def test_a_loop_over_an_input_the_task_lacks_is_refused() -> None:
    raw = _edited("p3_misc")
    raw["root"]["dag"]["tasks"]["for-loop-1"]["parameterIterator"]["items"] = {
        "inputParameter": "pipelinechannel--ghost"
    }
    problems = unsupported_features(load_pipeline(raw), allow_accelerators=True)
    assert problems == [
        "task 'for-loop-1' in root: a ParallelFor over 'pipelinechannel--ghost', "
        "which is not an input of the task"
    ]


def test_the_list_of_problems_is_capped() -> None:
    raw = _edited("p2_control_flow")
    for label in raw["deploymentSpec"]["executors"]:
        raw["deploymentSpec"]["executors"][label] = {"customJob": {"customJob": {}}}
    for comp in raw["components"].values():
        comp["singlePlatformSpecs"] = [{"platform": "google_cloud"}]
    with pytest.raises(InvalidInput) as err:
        check_supported(load_pipeline(raw))
    assert "singlePlatformSpecs" in err.value.message
    assert err.value.message.endswith("more")
    assert err.value.message.count(";") == 25
