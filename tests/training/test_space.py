"""Search spaces: Vizier's parameter specs into Optuna distributions, and bad specs."""

from __future__ import annotations

import pytest
from optuna import distributions as d

from pmle.errors import InvalidInput
from pmle.training.space import grid_values, parse_space


def test_parameter_kinds() -> None:
    params = parse_space(
        {
            "lr": {"type": "DOUBLE", "min": 0.001, "max": 0.3, "scale": "UNIT_LOG_SCALE"},
            "leaves": {"type": "integer", "min": 8, "max": 64, "step": 8},
            "boosting": {"type": "categorical", "values": ["gbdt", "dart"]},
            "depth": {"type": "discrete", "values": [7, 3, 5]},
        }
    )
    dists = {p.name: p.distribution() for p in params}
    assert dists["lr"] == d.FloatDistribution(0.001, 0.3, log=True)
    assert dists["leaves"] == d.IntDistribution(8, 64, step=8)
    assert dists["boosting"] == d.CategoricalDistribution(["gbdt", "dart"])
    assert dists["depth"] == d.CategoricalDistribution([3, 5, 7])  # sorted numbers
    assert grid_values(params[1:]) == {
        "leaves": [8, 16, 24, 32, 40, 48, 56, 64],
        "boosting": ["gbdt", "dart"],
        "depth": [3, 5, 7],
    }
    stepped = parse_space({"x": {"type": "double", "min": 0, "max": 1, "step": 0.25}})
    assert grid_values(stepped) == {"x": [0.0, 0.25, 0.5, 0.75, 1.0]}
    assert params[0].to_dict() == {"type": "double", "min": 0.001, "max": 0.3, "scale": "log"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"x": {"type": "real", "min": 0, "max": 1}}, "has type 'real'"),
        ({"x": {"type": "double", "min": 1, "max": 1}}, "must be below max"),
        ({"x": {"type": "double", "min": 0, "max": 1, "scale": "log"}}, "log scale needs min"),
        ({"x": {"type": "double", "max": 1}}, "needs a number 'min'"),
        ({"x": {"type": "integer", "min": 0.5, "max": 3}}, "whole min and max"),
        ({"x": {"type": "categorical", "values": []}}, "non-empty list"),
        ({"x": {"type": "discrete", "values": [1, "a"]}}, "numbers only"),
        ({"x": {"type": "categorical", "values": ["a", "a"]}}, "a value twice"),
        ({"x": {"type": "double", "min": 0, "max": 1, "stepp": 1}}, "unknown keys"),
        ({}, "not empty"),
    ],
)
def test_bad_specs(spec: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_space(spec)


def test_grid_needs_finite_values() -> None:
    with pytest.raises(InvalidInput, match="grid search needs a finite set"):
        grid_values(parse_space({"x": {"type": "double", "min": 0, "max": 1}}))
