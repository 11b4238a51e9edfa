"""KFP pipelines the scheduler tests compile (not a test module: kfp reads component source
with inspect.getsource, so they must live in a real file)."""
# ruff: noqa: UP006, UP035, SIM115

import functools
from pathlib import Path
from typing import List

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Output

component = functools.partial(dsl.component, base_image="python:3.11")


@component
def make(n: int, ds: Output[Dataset]) -> int:
    with open(ds.path, "w") as f:
        f.write(",".join(str(i) for i in range(n)))
    return n * 2


@component
def consume(ds: Input[Dataset], k: int) -> str:
    return f"{open(ds.path).read()}|{k}"


@component
def stamp(seconds: float) -> str:
    import time

    start = time.time()
    time.sleep(seconds)
    return f"{start},{time.time()}"


@component
def number(x: int) -> int:
    return x


@component
def say(msg: str) -> str:
    return msg


@component
def square(x: int) -> int:
    return x * x


@component
def total(xs: List[int]) -> str:
    return ",".join(str(int(x)) for x in xs)


@component
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@component
def final(status: dsl.PipelineTaskFinalStatus) -> str:
    return f"{status.state} {status.pipeline_task_name} {status.error_code}"


@component
def flaky(marker: str) -> str:
    import os

    if not os.path.exists(marker):
        open(marker, "w").write("1")
        raise RuntimeError("first attempt fails")
    return "ok"


@component
def write(x: int, ds: Output[Dataset]):
    open(ds.path, "w").write(str(x))


@component
def join(dss: Input[List[Dataset]]) -> str:
    return ",".join(open(d.path).read() for d in dss)


@dsl.pipeline(name="linear")
def linear(n: int = 3) -> str:
    m = make(n=n)
    return consume(ds=m.outputs["ds"], k=m.outputs["Output"]).output


@dsl.pipeline(name="branches")
def branches():
    stamp(seconds=1.0).set_caching_options(False)
    stamp(seconds=1.0).set_caching_options(False)


@dsl.pipeline(name="conditions")
def conditions(x: int) -> str:
    v = number(x=x)
    with dsl.If(v.output < 0):
        a = say(msg="neg")
    with dsl.Elif(v.output == 0):
        b = say(msg="zero")
    with dsl.Else():
        c = say(msg="pos")
    return dsl.OneOf(a.output, b.output, c.output)


@dsl.pipeline(name="loop")
def loop(xs: list = [1, 2, 3, 4]) -> str:  # noqa: B006
    with dsl.ParallelFor(xs, parallelism=2) as x:
        s = square(x=x)
    return total(xs=dsl.Collected(s.output)).output


@dsl.pipeline(name="limited")
def limited():
    with dsl.ParallelFor([1, 2, 3, 4], parallelism=2):
        stamp(seconds=0.4)


@dsl.pipeline(name="fan-in-artifacts")
def fan_in_artifacts():
    with dsl.ParallelFor([5, 6, 7]) as x:
        w = write(x=x)
    join(dss=dsl.Collected(w.outputs["ds"]))


@dsl.pipeline(name="cpu-bound")
def cpu_bound(cpu: str = "1"):
    stamp(seconds=0.4).set_cpu_limit(cpu)
    stamp(seconds=0.4).set_cpu_limit(cpu)


@dsl.pipeline(name="exit")
def exit_pipeline():
    with dsl.ExitHandler(final()):
        b = boom(x=1)
        say(msg="after").after(b)


@dsl.pipeline(name="failing")
def failing():
    b = boom(x=2)
    say(msg="never").after(b)
    say(msg="independent")


@dsl.pipeline(name="retry")
def retry(marker: str):
    flaky(marker=marker).set_retry(num_retries=2, backoff_duration="0s")


@dsl.pipeline(name="inner")
def inner(x: int) -> int:
    return square(x=number(x=x).output).output


@dsl.pipeline(name="outer")
def outer(x: int = 3) -> int:
    return number(x=inner(x=x).output).output


PIPELINES = {
    "linear": linear,
    "branches": branches,
    "conditions": conditions,
    "loop": loop,
    "exit": exit_pipeline,
    "failing": failing,
    "retry": retry,
    "outer": outer,
    "limited": limited,
    "fan_in_artifacts": fan_in_artifacts,
    "cpu_bound": cpu_bound,
}


def compile_pipeline(name: str, folder: Path) -> Path:
    """Compile the pipeline `name` to `folder/<name>.yaml`."""
    path = folder / f"{name}.yaml"
    compiler.Compiler().compile(PIPELINES[name], str(path))
    return path
