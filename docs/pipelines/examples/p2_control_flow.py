"""P2: If/Elif/Else, ParallelFor(parallelism) + Collected, OneOf, ExitHandler + PipelineTaskFinalStatus."""
from typing import List

from kfp import dsl
from kfp.dsl import Dataset, Input, Output, PipelineTaskFinalStatus


@dsl.component(base_image="python:3.11")
def flip(seed: int) -> str:
    import random
    random.seed(seed)
    return random.choice(["heads", "tails", "edge"])


@dsl.component(base_image="python:3.11")
def number(x: int) -> int:
    return x


@dsl.component(base_image="python:3.11")
def say(msg: str) -> str:
    print(msg)
    return msg


@dsl.component(base_image="python:3.11")
def square(x: int) -> int:
    return x * x


@dsl.component(base_image="python:3.11")
def make_ds(x: int, out: Output[Dataset]):
    open(out.path, "w").write(str(x))


@dsl.component(base_image="python:3.11")
def total(xs: List[int]) -> int:
    return sum(xs)


@dsl.component(base_image="python:3.11")
def count_ds(dss: Input[List[Dataset]]) -> int:
    return len(dss)


@dsl.component(base_image="python:3.11")
def cleanup(status: PipelineTaskFinalStatus, note: str = "bye"):
    print(status.state, status.pipeline_job_resource_name, status.pipeline_task_name,
          status.error_code, status.error_message, note)


@dsl.component(base_image="python:3.11")
def might_fail(fail: bool):
    if fail:
        raise RuntimeError("boom")


@dsl.pipeline(name="p2-control-flow")
def p2(seed: int = 1, items: List[int] = [1, 2, 3], fail: bool = False):
    exit_task = cleanup()
    with dsl.ExitHandler(exit_task, name="main-body"):
        f = flip(seed=seed)
        with dsl.If(f.output == "heads", name="is-heads"):
            a = say(msg="H")
        with dsl.Elif(f.output == "tails"):
            b = say(msg="T")
        with dsl.Else():
            c = say(msg="E")
        say(msg=dsl.OneOf(a.output, b.output, c.output))

        n = number(x=seed)
        with dsl.If(n.output > 0):
            with dsl.If(seed < 10):  # pipeline-param condition
                say(msg="small positive")

        with dsl.ParallelFor(items, parallelism=2) as item:
            sq = square(x=item)
            md = make_ds(x=sq.output)
        total(xs=dsl.Collected(sq.output))
        count_ds(dss=dsl.Collected(md.outputs["out"]))

        with dsl.ParallelFor([{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]) as rec:  # static list of dicts
            say(msg=rec.b)

        with dsl.ParallelFor([4, 5]) as k:
            square(x=k)
        might_fail(fail=fail)
