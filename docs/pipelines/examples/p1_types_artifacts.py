"""P1: lightweight components; every parameter type; every artifact type; NamedTuple outputs."""
from typing import Dict, List, NamedTuple, Optional

from kfp import dsl
from kfp.dsl import (HTML, Artifact, ClassificationMetrics, Dataset, Input, InputPath, Markdown,
                     Metrics, Model, Output, OutputPath)


@dsl.component(base_image="python:3.11")
def make_data(n: int, scale: float, tag: str, flag: bool, cfg: dict, items: list,
              opt: Optional[str] = None,
              ds: Output[Dataset] = None) -> NamedTuple("Outs", [("rows", int), ("mean", float),
                                                                 ("label", str), ("ok", bool),
                                                                 ("info", Dict[str, int]),
                                                                 ("names", List[str])]):
    import json
    rows = [i * scale for i in range(n)]
    with open(ds.path, "w") as f:
        json.dump(rows, f)
    ds.metadata["rows"] = n
    Outs = NamedTuple("Outs", [("rows", int), ("mean", float), ("label", str), ("ok", bool),
                               ("info", Dict[str, int]), ("names", List[str])])
    return Outs(n, sum(rows) / max(n, 1), f"{tag}-{opt}", flag and bool(cfg), {"n": n}, [str(x) for x in items])


@dsl.component(base_image="python:3.11", packages_to_install=["numpy"])
def train(ds: Input[Dataset], lr: float, model: Output[Model], metrics: Output[Metrics],
          cm: Output[ClassificationMetrics], md: Output[Markdown], html: Output[HTML],
          raw: Output[Artifact]) -> str:
    import json
    rows = json.load(open(ds.path))
    with open(model.path, "w") as f:
        f.write(json.dumps({"w": lr * len(rows)}))
    model.metadata["framework"] = "toy"
    metrics.log_metric("accuracy", 0.9)
    metrics.log_metric("loss", 0.1)
    cm.log_confusion_matrix(["a", "b"], [[5, 1], [2, 6]])
    cm.log_roc_curve([0.0, 0.5, 1.0], [0.0, 0.8, 1.0], [1.0, 0.5, 0.0])
    open(md.path, "w").write("# hello\n")
    open(html.path, "w").write("<h1>hi</h1>")
    open(raw.path, "w").write("raw")
    return model.uri


@dsl.component(base_image="python:3.11")
def path_style(ds_path: InputPath("Dataset"), out_path: OutputPath("Model"), out_param: OutputPath(str)):
    import shutil
    shutil.copy(ds_path, out_path)
    open(out_param, "w").write("wrote")


@dsl.component(base_image="python:3.11")
def returns_artifact(x: int) -> Dataset:
    return str(x)  # executor writes the payload to the output path


@dsl.pipeline(name="p1-types", description="types and artifacts")
def p1(n: int = 5, scale: float = 1.5, tag: str = "t", flag: bool = True,
       cfg: dict = {"a": 1}, items: list = [1, 2], opt: Optional[str] = None):
    d = make_data(n=n, scale=scale, tag=tag, flag=flag, cfg=cfg, items=items, opt=opt)
    t = train(ds=d.outputs["ds"], lr=d.outputs["mean"])
    p = path_style(ds_path=d.outputs["ds"])
    returns_artifact(x=d.outputs["rows"]).after(p)
