"""P8: dsl.OneOf over artifacts + pipeline output of OneOf."""
from kfp import dsl
from kfp.dsl import Dataset, Input, Output


@dsl.component(base_image="python:3.11")
def flip() -> str:
    return "heads"


@dsl.component(base_image="python:3.11")
def mk(tag: str, out: Output[Dataset]):
    open(out.path, "w").write(tag)


@dsl.component(base_image="python:3.11")
def read(d: Input[Dataset]) -> str:
    return open(d.path).read()


@dsl.pipeline(name="p8-oneof-artifacts")
def p8() -> Dataset:
    f = flip()
    with dsl.If(f.output == "heads"):
        a = mk(tag="H")
    with dsl.Else():
        b = mk(tag="T")
    chosen = dsl.OneOf(a.outputs["out"], b.outputs["out"])
    read(d=chosen)
    return chosen
