"""P5: extra IR shapes: f-string inputs, bool/float conditions, ignore_upstream_failure,
nested ParallelFor + Collected, loop over artifacts (artifactIterator), pipeline input artifact,
pipeline returning Collected artifacts, env var on a lightweight component, placeholders as args."""
from typing import List, NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Output, Model


@dsl.component(base_image="python:3.11")
def say(msg: str) -> str:
    print(msg)
    return msg


@dsl.component(base_image="python:3.11")
def is_ok(x: float) -> bool:
    return x > 0.5


@dsl.component(base_image="python:3.11")
def score() -> float:
    return 0.75


@dsl.component(base_image="python:3.11")
def mk(x: int, out: Output[Dataset]):
    open(out.path, "w").write(str(x))


@dsl.component(base_image="python:3.11")
def read(d: Input[Dataset]) -> str:
    return open(d.path).read()


@dsl.component(base_image="python:3.11")
def concat(xs: List[str]) -> str:
    return ",".join(map(str, xs))


@dsl.component(base_image="python:3.11")
def use_model(m: Input[Model]) -> str:
    import os
    return m.uri + " " + os.environ.get("MY_ENV", "")


@dsl.pipeline(name="make-many")
def make_many(xs: List[int]) -> List[Dataset]:
    with dsl.ParallelFor(xs) as x:
        t = mk(x=x)
    return dsl.Collected(t.outputs["out"])


@dsl.pipeline(name="p5-extras")
def p5(name: str = "world", m: Input[Model] = None):
    s = say(msg=f"hello {name}!")
    sc = score()
    ok = is_ok(x=sc.output)
    with dsl.If(ok.output == True):
        say(msg="ok is true")
    with dsl.If(sc.output >= 0.7):
        say(msg="score high")
    with dsl.If(sc.output != 0.1):
        say(msg=dsl.PIPELINE_JOB_NAME_PLACEHOLDER)
    cleanup = say(msg="runs even if upstream fails").after(s).ignore_upstream_failure()

    with dsl.ParallelFor([1, 2]) as a:
        with dsl.ParallelFor([10, 20]) as b:
            inner = say(msg=f"{a}-{b}")
    concat(xs=dsl.Collected(inner.output))

    many = make_many(xs=[1, 2, 3])
    with dsl.ParallelFor(many.output) as ds:
        read(d=ds)

    um = use_model(m=m)
    um.set_env_variable("MY_ENV", "v1")
    um.set_caching_options(enable_caching=True, cache_key="my-key")
