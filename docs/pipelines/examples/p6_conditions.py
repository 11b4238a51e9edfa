"""P6: CEL condition grammar edge cases."""
from kfp import dsl


@dsl.component(base_image="python:3.11")
def s() -> str:
    return "5"


@dsl.component(base_image="python:3.11")
def i() -> int:
    return 5


@dsl.component(base_image="python:3.11")
def f() -> float:
    return 5.0


@dsl.component(base_image="python:3.11")
def b() -> bool:
    return True


@dsl.component(base_image="python:3.11")
def noop(x: str = ""):
    pass


@dsl.pipeline(name="p6-conditions")
def p6(p: str = "a", q: int = 3):
    S, I, F, B = s(), i(), f(), b()
    with dsl.If(S.output == 5):            # str channel vs int literal
        noop()
    with dsl.If(I.output == F.output):     # int channel vs float channel
        noop()
    with dsl.If(I.output < q):             # channel vs pipeline param
        noop()
    with dsl.If(B.output == 1):            # bool channel vs int literal
        noop()
    with dsl.If(B.output != False):
        noop()
    with dsl.If(S.output == I.output):     # str channel vs int channel
        noop()
    with dsl.If(p == "it's"):              # quote inside string literal
        noop()
    # NOTE: dsl.If(loop_item.subvar == ...) inside ParallelFor fails to COMPILE in kfp 2.17.3
    # (AssertionError: component_input_parameter: pipelinechannel--loop-item-param-N not found)
    with dsl.ParallelFor(["x", "y"]) as it:
        with dsl.If(it == "x"):            # loop item in condition
            noop(x=it)
    with dsl.If(I.output > 1):
        with dsl.If(I.output > 2):
            noop()
