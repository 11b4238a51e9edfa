"""A tuning study's search space (Vertex AI Vizier's parameter specs), read from a dict or
YAML and turned into Optuna distributions.

    lr:       {type: double, min: 0.001, max: 0.3, scale: log}
    leaves:   {type: integer, min: 8, max: 128}
    boosting: {type: categorical, values: [gbdt, dart]}
    depth:    {type: discrete, values: [3, 5, 7]}

Types DOUBLE, INTEGER, CATEGORICAL, DISCRETE (any case); scales linear (default) and log
(Vertex's UNIT_LINEAR_SCALE / UNIT_LOG_SCALE); an optional `step` for doubles and integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pmle.errors import InvalidInput

__all__ = ["Parameter", "grid_values", "parse_space"]

_TYPES = {"double": "double", "float": "double", "integer": "integer", "int": "integer"}
_TYPES |= {"categorical": "categorical", "discrete": "discrete"}
_SCALES = {"linear": "linear", "unit_linear_scale": "linear", "log": "log"}
_SCALES |= {"unit_log_scale": "log"}


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # double | integer | categorical | discrete
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    values: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        from optuna import distributions as d

        if self.kind == "double":
            assert self.low is not None and self.high is not None
            return d.FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        if self.kind == "integer":
            assert self.low is not None and self.high is not None
            step = int(self.step) if self.step else 1
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
        return d.CategoricalDistribution(list(self.values))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        if self.kind in {"double", "integer"}:
            out.update(min=self.low, max=self.high, scale="log" if self.log else "linear")
            if self.step is not None:
                out["step"] = self.step
        else:
            out["values"] = list(self.values)
        return out


def _number(name: str, spec: Mapping[str, Any], key: str) -> float:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"parameter {name!r} needs a number '{key}', got {value!r}")
    return float(value)


def _parameter(name: str, spec: Any) -> Parameter:
    if not isinstance(spec, Mapping):
        raise InvalidInput(
            f"parameter {name!r} must be a mapping such as {{type: double, min: 0, max: 1}}"
        )
    kind = _TYPES.get(str(spec.get("type", "")).lower())
    if kind is None:
        raise InvalidInput(
            f"parameter {name!r} has type {spec.get('type')!r}",
            hint="double, integer, categorical or discrete",
        )
    unknown = set(spec) - {"type", "min", "max", "scale", "step", "values"}
    if unknown:
        raise InvalidInput(f"parameter {name!r} has unknown keys {sorted(unknown)}")
    if kind in {"categorical", "discrete"}:
        values = spec.get("values")
        if not isinstance(values, list | tuple) or not values:
            raise InvalidInput(f"parameter {name!r} needs a non-empty list of 'values'")
        if len(set(map(repr, values))) != len(values):
            raise InvalidInput(f"parameter {name!r} lists a value twice")
        if kind == "discrete" and not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            raise InvalidInput(f"discrete parameter {name!r} takes numbers only")
        if kind == "categorical" and not all(
            isinstance(v, str | int | float | bool) for v in values
        ):
            raise InvalidInput(f"categorical parameter {name!r} takes text, numbers or booleans")
        return Parameter(name, kind, values=tuple(sorted(values) if kind == "discrete" else values))
    low, high = _number(name, spec, "min"), _number(name, spec, "max")
    if low >= high:
        raise InvalidInput(f"parameter {name!r}: min ({low:g}) must be below max ({high:g})")
    scale = _SCALES.get(str(spec.get("scale", "linear")).lower())
    if scale is None:
        raise InvalidInput(
            f"parameter {name!r} has scale {spec.get('scale')!r}", hint="linear or log"
        )
    if scale == "log" and low <= 0:
        raise InvalidInput(f"parameter {name!r}: a log scale needs min above 0")
    step = spec.get("step")
    if step is not None:
        step = _number(name, spec, "step")
        if step <= 0 or scale == "log":
            raise InvalidInput(f"parameter {name!r}: step must be positive, on a linear scale")
    if kind == "integer" and (not low.is_integer() or not high.is_integer()):
        raise InvalidInput(f"integer parameter {name!r} needs whole min and max")
    return Parameter(name, kind, low=low, high=high, log=scale == "log", step=step)


def parse_space(space: Mapping[str, Any]) -> list[Parameter]:
    """The parameters of a space mapping; InvalidInput naming the first bad one."""
    if not isinstance(space, Mapping) or not space:
        raise InvalidInput("a search space maps parameter names to their specs, and is not empty")
    return [_parameter(str(name), spec) for name, spec in space.items()]


def grid_values(parameters: list[Parameter]) -> dict[str, list[Any]]:
    """Every value of every parameter, for grid search (doubles need a step)."""
    out: dict[str, list[Any]] = {}
    for p in parameters:
        if p.kind in {"categorical", "discrete"}:
            out[p.name] = list(p.values)
        elif p.kind == "integer":
            assert p.low is not None and p.high is not None
            out[p.name] = list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))
        elif p.step is not None:
            assert p.low is not None and p.high is not None
            count = round((p.high - p.low) / p.step) + 1
            out[p.name] = [round(p.low + i * p.step, 12) for i in range(count)]
        else:
            raise InvalidInput(
                f"grid search needs a finite set of values: double parameter {p.name!r} has none",
                hint="give it a step, make it discrete, or use algorithm 'bayesian' or 'random'",
            )
    return out
