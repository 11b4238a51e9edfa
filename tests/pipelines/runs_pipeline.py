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
