"""P4: 5-step linear chain of trivial lightweight components (used for timing)."""
from kfp import dsl


@dsl.component(base_image="python:3.11")
def inc(x: int) -> int:
    return x + 1


@dsl.pipeline(name="p4-linear")
def p4(x: int = 0) -> int:
    t = inc(x=x)
    for _ in range(4):
        t = inc(x=t.output)
    return t.output
