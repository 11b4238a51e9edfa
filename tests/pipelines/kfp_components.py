"""KFP components and a pipeline the execution-layer tests compile with kfp (not a test module:
kfp reads component source with inspect.getsource, so they must live in a real file).

Loaded by the tests with importlib; :func:`compile_pipeline` writes the IR YAML. Written the
way KFP users write components (typing generics, bare open() calls), hence the ruff waivers.
"""
# ruff: noqa: UP006, UP014, UP035, UP045, SIM115

import functools
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

from kfp import compiler, dsl
from kfp.dsl import (
    HTML,
    ClassificationMetrics,
    Dataset,
    Input,
    InputPath,
    Markdown,
    Metrics,
    Model,
    Output,
    OutputPath,
)

component = functools.partial(dsl.component, base_image="python:3.11")


@component
def make_data(
    n: int,
    scale: float,
    tag: str,
    flag: bool,
    cfg: dict,
    items: list,
    opt: Optional[str] = None,
    ds: Output[Dataset] = None,
) -> NamedTuple(
    "Outs",
    [
        ("rows", int),
        ("mean", float),
        ("label", str),
        ("ok", bool),
        ("info", Dict[str, int]),
        ("names", List[str]),
    ],
):
    import json
    from typing import NamedTuple

    Outs = NamedTuple(
        "Outs",
        [
            ("rows", int),
            ("mean", float),
            ("label", str),
            ("ok", bool),
            ("info", dict),
            ("names", list),
        ],
    )

    assert type(n) is int and type(scale) is float and type(flag) is bool
    rows = [i * scale for i in range(n)]
    with open(ds.path, "w") as f:
        json.dump(rows, f)
    ds.metadata["rows"] = n
    return Outs(n, sum(rows) / max(n, 1), f"{tag}-{opt}", flag and bool(cfg), cfg, items)


@component
def train(
    ds: Input[Dataset],
    lr: float,
    model: Output[Model],
    metrics: Output[Metrics],
    cm: Output[ClassificationMetrics],
    md: Output[Markdown],
    html: Output[HTML],
) -> str:
    import json

    rows = json.load(open(ds.path))
    with open(model.path, "w") as f:
        f.write(json.dumps({"w": lr * len(rows), "input_rows": ds.metadata["rows"]}))
    model.metadata["framework"] = "toy"
    metrics.log_metric("accuracy", 0.9)
    metrics.log_metric("loss", 0.1)
    cm.log_confusion_matrix(["a", "b"], [[5, 1], [2, 6]])
    open(md.path, "w").write("# hello\n")
    open(html.path, "w").write("<h1>hi</h1>")
    return model.uri


@component
def path_style(
    ds_path: InputPath("Dataset"),
    out_path: OutputPath("Model"),
    n_out: OutputPath(int),
    s_out: OutputPath(str),
    b_out: OutputPath(bool),
    l_out: OutputPath(list),
):
    import shutil

    shutil.copy(ds_path, out_path)
    open(n_out, "w").write("7")
    open(s_out, "w").write("plain text, not JSON")
    open(b_out, "w").write("True")
    open(l_out, "w").write("[1, 2.5]")


@component
def returns_artifact(x: int) -> Dataset:
    return f"payload {x}"


@component
def count(dss: Input[List[Dataset]]) -> int:
    return sum(len(open(d.path).read()) for d in dss)


@component
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@component
def die(code: int) -> int:
    import os

    os._exit(code)


@component
def segfault() -> int:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)  # what a crashing C extension gets
    return 0


@component(packages_to_install=["pmle-not-a-real-package-xyz==1.0", "pyyaml"])
def needs_pkg() -> int:
    return 1


@component
def noisy(x: int) -> int:
    import subprocess
    import sys

    print("to stdout", x)
    print("to stderr", x, file=sys.stderr)
    subprocess.run(["echo", "from a child process"], check=True)
    return x


@component
def env_reader() -> str:
    import os

    return os.environ["PMLE_TEST_FOO"]


@component
def sleepy(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@component
def say(msg: str) -> str:
    return msg


@component
def final(status: dsl.PipelineTaskFinalStatus) -> str:
    return f"{status.state} {status.pipeline_task_name} {status.error_code} {status.error_message}"


@component
def inc(x: int) -> int:
    return x + 1


@dsl.container_component
def shell_step(
    msg: str, n: int, out: Output[Dataset], outp: OutputPath(str), nout: OutputPath(int)
):
    return dsl.ContainerSpec(
        image="alpine:3.19",
        command=["sh", "-c"],
        args=[
            dsl.ConcatPlaceholder(
                [
                    "echo ",
                    msg,
                    " > ",
                    out.path,
                    " && printf done > ",
                    outp,
                    " && echo ",
                    n,
                    " > ",
                    nout,
                ]
            ),
            "sh",
            dsl.IfPresentPlaceholder(input_name="msg", then=["--msg", msg], else_=["--nomsg"]),
        ],
    )


@dsl.container_component
def optional_flag(out: OutputPath(str), extra: Optional[str] = None):
    return dsl.ContainerSpec(
        image="alpine",
        command=["sh", "-c", 'printf "%s" "$*" > "$0"', out],
        args=[
            dsl.IfPresentPlaceholder(input_name="extra", then=["--extra", extra], else_=["--none"])
        ],
    )


@dsl.container_component
def python_writes_output(d: Input[Dataset], out: OutputPath(str)):
    return dsl.ContainerSpec(
        image="python:3.11",
        command=["python3", "-c"],
        args=[
            "import os, sys; text = open(sys.argv[1]).read().upper(); "
            "open(sys.argv[2], 'w').write(text + os.environ['PMLE_TEST_FOO'])",
            d.path,
            out,
        ],
    )


@dsl.container_component
def failing_container():
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", "echo about to fail >&2; exit 3"])


@dsl.pipeline(name="exec-tests")
def exec_tests(n: int = 3, msg: str = "hello"):
    d = make_data(n=n, scale=1.5, tag="t", flag=True, cfg={"a": 1}, items=["x", "y"])
    train(ds=d.outputs["ds"], lr=d.outputs["mean"])
    path_style(ds_path=d.outputs["ds"])
    with dsl.ParallelFor([1, 2]) as i:
        r = returns_artifact(x=i)
    count(dss=dsl.Collected(r.output))
    boom(x=n)
    die(code=7)
    segfault()
    needs_pkg()
    with dsl.ExitHandler(final()):
        noisy(x=n)
    env_reader().set_env_variable("PMLE_TEST_FOO", "bar")
    sleepy(seconds=5.0)
    say(msg=f"hello {msg}!")
    say(msg=dsl.PIPELINE_JOB_NAME_PLACEHOLDER)
    inc(x=n)
    sh = shell_step(msg=msg, n=n)
    optional_flag()
    python_writes_output(d=sh.outputs["out"]).set_env_variable("PMLE_TEST_FOO", "!")
    failing_container()
    dsl.importer(
        artifact_uri="file:///tmp/pmle-data.csv",
        artifact_class=Dataset,
        metadata={"framework": "sk", "n": n, "label": f"n={n}"},
    )


def compile_pipeline(path: Path) -> Path:
    """Compile :func:`exec_tests` to `path` (YAML)."""
    compiler.Compiler().compile(exec_tests, str(path))
    return path
