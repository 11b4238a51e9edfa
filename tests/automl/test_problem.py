from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmle.automl.problem import infer_task, make_problem
from pmle.errors import InvalidInput


def test_task_is_inferred_from_the_target(churn: pd.DataFrame) -> None:
    assert infer_task(churn["churn"]) == "binary"
    assert infer_task(churn["contract"]) == "multiclass"
    assert infer_task(churn["monthly_charges"]) == "regression"
    assert infer_task(pd.Series([1, 2, 3, 1, 2, 3])) == "multiclass"
    assert infer_task(pd.Series(np.arange(100))) == "regression"


def test_id_and_constant_columns_are_dropped_with_a_note(churn: pd.DataFrame) -> None:
    frame = churn.assign(customer_id=[f"C{i:05d}" for i in range(len(churn))], const=1)
    problem = make_problem(frame, "churn")
    assert "customer_id" not in problem.kinds and "const" not in problem.kinds
    assert any("customer_id" in n and "ID" in n for n in problem.notes)
    assert any("const" in n and "constant" in n for n in problem.notes)
    assert problem.classes == ["No", "Yes"]
    assert set(np.unique(problem.y)) == {0, 1}


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda f: f, {"target": "nope"}, "no target column 'nope'"),
        (lambda f: f.assign(churn="No"), {}, "single value"),
        (lambda f: f.assign(churn=None), {}, "all missing"),
        (lambda f: f.assign(churn=f["churn"].where(f.index % 50 != 0)), {}, "missing in 141 rows"),
        (lambda f: f, {"task": "regression"}, "must be numeric"),
        (lambda f: f.head(10), {}, "too few rows"),
        (lambda f: f, {"task": "binary", "target": "payment_method"}, "exactly 2 classes"),
        (
            lambda f: f.assign(churn=["a"] + ["b"] * (len(f) - 1)),
            {"task": "binary"},
            "fewer than 2 rows",
        ),
        (lambda f: f, {"weight_column": "contract"}, "non-negative numbers"),
        (lambda f: f, {"task": "ranking"}, "unknown task"),
    ],
)
def test_bad_problems_are_refused_with_what_to_do(
    churn: pd.DataFrame, change: object, kwargs: dict[str, str], message: str
) -> None:
    args = {"target": "churn", **kwargs}
    with pytest.raises(InvalidInput, match=message):
        make_problem(change(churn.copy()), **args)  # type: ignore[operator]
