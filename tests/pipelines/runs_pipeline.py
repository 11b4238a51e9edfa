"""Pipeline source the run tests write into a temp folder and run (not a test module)."""

SOURCE = """
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output


@dsl.component(base_image="python:3.11")
def make(n: int, ds: Output[Dataset]) -> int:
    with open(ds.path, "w") as f:
        f.write(",".join(str(i) for i in range(n)))
    return n * 2


@dsl.component(base_image="python:3.11")
def consume(ds: Input[Dataset]) -> str:
    with open(ds.path) as f:
        return f.read().upper() + "!"


@dsl.component(base_image="python:3.11")
def score(k: int, metrics: Output[Metrics]) -> int:
    metrics.log_metric("k", k)
    return k * 10


@dsl.pipeline(name="runs-demo")
def demo(n: int = 3, k: int = 1) -> str:
    made = make(n=n)
    used = consume(ds=made.outputs["ds"])
    score(k=k)
    return used.output
"""

FAILING = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def boom(x: int) -> int:
    raise RuntimeError(f"boom {x}")


@dsl.pipeline(name="fails")
def failing(x: int = 1):
    boom(x=x)
"""

TWO = (
    SOURCE
    + """

@dsl.pipeline(name="other")
def other(k: int = 2):
    score(k=k)
"""
)

# `flaky` fails until its marker file exists; `first` and `last` around it.
FLAKY = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def first(x: int) -> int:
    return x + 1


@dsl.component(base_image="python:3.11")
def flaky(x: int, marker: str) -> int:
    import os
    if not os.path.exists(marker):
        raise RuntimeError("no marker yet")
    return x * 10


@dsl.component(base_image="python:3.11")
def last(y: int) -> str:
    return f"got {y}"


@dsl.pipeline(name="flaky")
def flaky_pipeline(x: int = 1, marker: str = "") -> str:
    a = first(x=x)
    b = flaky(x=a.output, marker=marker)
    return last(y=b.output).output
"""

# `slow` waits (at most 30 s) for its release file; `quick` runs first.
SLOW = """
from kfp import dsl


@dsl.component(base_image="python:3.11")
def quick(x: int) -> int:
    return x + 1


@dsl.component(base_image="python:3.11")
def slow(x: int, release: str) -> int:
    import os, time
    deadline = time.time() + 30
    while not os.path.exists(release) and time.time() < deadline:
        time.sleep(0.05)
    return x * 2


@dsl.component(base_image="python:3.11")
def after(y: int) -> int:
    return y + 100


@dsl.pipeline(name="slow")
def slow_pipeline(x: int = 1, release: str = "") -> int:
    a = quick(x=x)
    b = slow(x=a.output, release=release)
    return after(y=b.output).output
"""
