"""P3: nested pipeline, importer, container component, task config (retry/caching/cpu/mem/env/accelerator), ParallelFor over task output."""
from typing import List

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output


@dsl.component(base_image="python:3.11")
def produce(n: int) -> List[int]:
    return list(range(n))


@dsl.component(base_image="python:3.11")
def add(a: int, b: int) -> int:
    return a + b


@dsl.component(base_image="python:3.11")
def consume(m: Input[Model], d: Input[Dataset]) -> str:
    return m.uri + "|" + d.uri + "|" + str(m.metadata)


@dsl.container_component
def shell_step(msg: str, n: int, out: Output[Dataset], outp: dsl.OutputPath(str)):
    return dsl.ContainerSpec(
        image="alpine:3.19",
        command=["sh", "-c"],
        args=[dsl.ConcatPlaceholder(["mkdir -p $(dirname ", out.path, ") && echo ", msg, " > ", out.path,
                                     " && mkdir -p $(dirname ", outp, ") && printf done > ", outp]),
              dsl.IfPresentPlaceholder(input_name="msg", then=["--msg", msg], else_=["--nomsg"])],
    )


@dsl.container_component
def echo_uri(d: Input[Dataset]):
    return dsl.ContainerSpec(image="alpine", command=["sh", "-c", "cat $0; echo $1 $2"],
                             args=[d.path, d.uri, d.metadata])


@dsl.pipeline(name="inner-pipeline")
def inner(x: int, y: int = 2) -> int:
    s = add(a=x, b=y)
    s2 = add(a=s.output, b=x)
    return s2.output


@dsl.pipeline(name="p3-misc")
def p3(n: int = 3, msg: str = "hello"):
    imp = dsl.importer(artifact_uri="gs://bucket/model/1", artifact_class=Model, reimport=False,
                       metadata={"framework": "sk", "n": n})
    imp_ds = dsl.importer(artifact_uri="file:///tmp/data.csv",
                          artifact_class=Dataset)
    consume(m=imp.output, d=imp_ds.output)

    sh = shell_step(msg=msg, n=n)
    sh.set_retry(num_retries=3, backoff_duration="5s", backoff_factor=2.0, backoff_max_duration="60s")
    sh.set_caching_options(enable_caching=False)
    sh.set_cpu_limit("2").set_memory_limit("1G").set_cpu_request("500m").set_memory_request("256M")
    sh.set_env_variable("FOO", "bar")
    sh.set_display_name("Shell step!")
    sh.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
    echo_uri(d=sh.outputs["out"])

    inn = inner(x=n)
    inn2 = inner(x=inn.output, y=5).after(sh)

    p = produce(n=n)
    with dsl.ParallelFor(p.output, parallelism=1) as i:
        add(a=i, b=inn2.output)
