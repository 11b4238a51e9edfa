"""The pipelines of the pipelines benchmark (issue 6), written once with kfp.dsl and run as they
are by both pmle (`ws.pipelines.run("pipelines.py:chain20", {})`) and kfp.local.

- `chain20`: 20 `inc` steps, each taking the previous one's output (no work: x + 1).
- `fanout50`: `ParallelFor` over 50 items, `inc(item)` each, `dsl.Collected` into one `total` step.
"""

from typing import List  # noqa: UP035 (kfp reads typing.List)

from kfp import dsl

CHAIN_STEPS = 20
FANOUT_ITEMS = 50


@dsl.component(base_image="python:3.11")
def inc(x: int) -> int:
    return x + 1


@dsl.component(base_image="python:3.11")
def total(xs: List[int]) -> int:  # noqa: UP006
    # int(): kfp.local hands the collected ints over as floats (1.0, 2.0, …), and kfp's executor
    # refuses a float returned for `-> int`
    return int(sum(xs))


@dsl.pipeline(name="chain20")
def chain20(start: int = 0) -> int:
    t = inc(x=start).set_caching_options(True)
    for _ in range(CHAIN_STEPS - 1):
        t = inc(x=t.output).set_caching_options(True)
    return t.output


@dsl.pipeline(name="fanout50")
def fanout50() -> int:
    with dsl.ParallelFor(items=list(range(FANOUT_ITEMS))) as item:
        t = inc(x=item).set_caching_options(True)
    s = total(xs=dsl.Collected(t.output)).set_caching_options(True)
    return s.output
