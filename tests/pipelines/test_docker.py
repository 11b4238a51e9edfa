"""Container components in Docker: engine detection, the `docker run` command line, and a run
through a stand-in `docker` executable (this machine has a Docker client but no engine)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines import docker
from pmle.workspace import Workspace

pytest.importorskip("kfp")

# Answers `info` as an engine would (or not), and runs `run ... --entrypoint E IMAGE ARGS` as
# a local process with the -e env and -w folder, logging its argv to $FAKE_DOCKER_LOG.
FAKE = r"""#!{python}
import json, os, subprocess, sys
args = sys.argv[1:]
if args[0] == "info":
    if os.environ.get("FAKE_DOCKER_DOWN"):
        sys.exit(1)
    print("27.0.0")
    sys.exit(0)
with open(os.environ["FAKE_DOCKER_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
if args[0] == "kill":
    sys.exit(0)
env, cwd, entry, i = dict(os.environ), None, None, 1
while args[i].startswith("-"):
    flag = args[i]
    if flag == "--rm":
        i += 1
        continue
    value = args[i + 1]
    if flag == "-e":
        key, _, val = value.partition("=")
        env[key] = val
    elif flag == "-w":
        cwd = value
    elif flag == "--entrypoint":
        entry = value
    i += 2
image, rest = args[i], args[i + 1:]
sys.exit(subprocess.call([entry, *rest], env=env, cwd=cwd))
"""

SOURCE = """
from kfp import dsl
from kfp.dsl import Dataset, Input, Output


@dsl.component(base_image="python:3.11")
def make(ds: Output[Dataset]):
    with open(ds.path, "w") as f:
        f.write("abc")


@dsl.container_component
def count(ds: Input[Dataset], n: dsl.OutputPath(int)):
    return dsl.ContainerSpec(
        image="busybox:1.36",
        command=["sh", "-c", 'mkdir -p "$(dirname "$1")"; printf "%s" "$(wc -c < "$0")" > "$1"'],
        args=[ds.path, n],
    )


@dsl.pipeline(name="in-docker")
def in_docker() -> int:
    made = make()
    task = count(ds=made.outputs["ds"]).set_cpu_limit("1").set_memory_limit("256M")
    task.set_env_variable("GREETING", "hi")
    return task.outputs["n"]
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    binary = tmp_path / "bin" / "docker"
    binary.parent.mkdir()
    binary.write_text(FAKE.replace("{python}", sys.executable))
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "docker.log"
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setattr(docker, "DOCKER", str(binary))
    docker._answers.cache_clear()
    yield log
    docker._answers.cache_clear()


def test_engine_detection(fake_docker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = docker.DOCKER
    assert docker.engine_available(binary)
    assert docker.resolve_runtime("auto") == "docker"
    docker._answers.cache_clear()
    monkeypatch.setenv("FAKE_DOCKER_DOWN", "1")
    assert not docker.engine_available(binary)
    assert docker.resolve_runtime("auto") == "local"
    with pytest.raises(InvalidInput, match="no Docker engine"):
        docker.resolve_runtime("docker")
    assert not docker.engine_available("/no/such/docker")
    with pytest.raises(InvalidInput, match="unknown container runtime"):
        docker.resolve_runtime("podman")


def test_container_task_runs_in_docker(ws: Workspace, tmp_path: Path, fake_docker: Path) -> None:
    path = tmp_path / "in_docker.py"
    path.write_text(SOURCE)
    run = ws.pipelines.run(path, containers="docker")
    tasks = {t["name"]: t for t in run.tasks}
    assert run.succeeded, [t["error"] for t in tasks.values()]
    assert run.result["outputs"]["parameters"]["Output"] == 3
    assert run.options["containers"] == "docker"
    (argv,) = [json.loads(line) for line in fake_docker.read_text().splitlines()]
    root = run.root_dir
    assert argv[:2] == ["run", "--rm"] and argv[argv.index("--user") + 1] == (
        f"{os.getuid()}:{os.getgid()}"
    )
    assert f"{root}:{root}" in argv  # the run folder at the same path
    assert argv[argv.index("-e") + 1] == "GREETING=hi"
    assert argv[argv.index("--cpus") + 1] == "1"
    assert argv[argv.index("--memory") + 1] == str(256 * 10**6)
    entry = argv.index("--entrypoint")
    assert argv[entry + 1 : entry + 3] == ["sh", "busybox:1.36"]  # image after the entrypoint
    # python components still run in pmle's workers, not in Docker
    assert tasks["make"]["state"] == "SUCCEEDED"


def test_local_containers_never_call_docker(
    ws: Workspace, tmp_path: Path, fake_docker: Path
) -> None:
    path = tmp_path / "in_docker.py"
    path.write_text(SOURCE)
    run = ws.pipelines.run(path, containers="local")
    assert run.succeeded and run.options["containers"] == "local"
    assert not fake_docker.exists()
