"""P7: set_retry defaults and runtime-valued (channel) resource limits."""
from kfp import dsl


@dsl.component(base_image="python:3.11")
def c(x: int) -> int:
    return x


@dsl.pipeline(name="tiny")
def tiny(cpu: str = "2", mem: str = "1Gi"):
    c(x=1).set_retry(num_retries=2).set_cpu_limit(cpu).set_memory_limit(mem)
