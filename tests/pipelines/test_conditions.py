"""The CEL subset of dsl.If conditions: parsing, CEL value semantics, errors with positions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pmle.errors import InvalidInput
from pmle.pipelines.conditions import evaluate, parse_condition

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "pipelines" / "examples"
# kfp 2.17 emits invalid CEL for these two (p6): `S.output == I.output` and `p == "it's"`.
BROKEN = {
    ("p6_conditions", "condition-6"): "string channel with a non-string channel",
    ("p6_conditions", "condition-7"): "a quote inside a string literal",
}


def _conditions() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []

    def walk(node: Any, example: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict) and "condition" in (value.get("triggerPolicy") or {}):
                    found.append((example, key, value["triggerPolicy"]["condition"]))
                walk(value, example)
        elif isinstance(node, list):
            for value in node:
                walk(value, example)

    for path in sorted(EXAMPLES.glob("*.yaml")):
        walk(yaml.safe_load(path.read_text()), path.stem)
    return found


CONDITIONS = _conditions()


def test_the_examples_hold_conditions() -> None:
    assert len(CONDITIONS) >= 20
    assert {example for example, _, _ in CONDITIONS} >= {
        "p2_control_flow",
        "p5_extras",
        "p6_conditions",
    }


@pytest.mark.parametrize(("example", "task", "text"), CONDITIONS, ids=lambda v: str(v)[:40])
def test_every_example_condition_parses_or_fails_cleanly(
    example: str, task: str, text: str
) -> None:
    if (example, task) in BROKEN:
        with pytest.raises(InvalidInput) as err:
            parse_condition(text)
        assert "at position" in err.value.message
        assert BROKEN[(example, task)] in str(err.value)
        return
    condition = parse_condition(text)
    assert condition.parameters
    assert all(name.startswith("pipelinechannel--") for name in condition.parameters)


def test_example_conditions_evaluate() -> None:
    elif_ = (
        "!(inputs.parameter_values['pipelinechannel--flip-Output'] == 'heads') && "
        "inputs.parameter_values['pipelinechannel--flip-Output'] == 'tails'"
    )
    for flip, expected in (("heads", False), ("tails", True), ("edge", False)):
        assert evaluate(elif_, {"pipelinechannel--flip-Output": flip}) is expected
    promoted = "double(int(inputs.parameter_values['pipelinechannel--number-Output'])) > 0.5"
    assert evaluate(promoted, {"pipelinechannel--number-Output": 1}) is True
    assert evaluate(promoted, {"pipelinechannel--number-Output": 0}) is False
    two_channels = (
        "int(inputs.parameter_values['pipelinechannel--i-Output']) < "
        "int(inputs.parameter_values['pipelinechannel--q'])"
    )
    assert (
        evaluate(two_channels, {"pipelinechannel--i-Output": 5, "pipelinechannel--q": 3.0}) is False
    )
    assert evaluate("inputs.parameter_values['b'] == true", {"b": True}) is True
    assert evaluate("inputs.parameter_values['s'] >= 0.7", {"s": 0.75}) is True
    assert evaluate("inputs.parameter_values['s'] != 0.1", {"s": 0.1}) is False


def _p(value: Any) -> dict[str, Any]:
    return {"x": value}


X = "inputs.parameter_values['x']"


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        (f"{X} == 1", 1, True),
        (f"{X} == 1", 2, False),
        (f"{X} != 1", 2, True),
        (f"{X} < 2", 1, True),
        (f"{X} < 1", 1, False),
        (f"{X} <= 1", 1, True),
        (f"{X} > 1", 1, False),
        (f"{X} >= 1", 1, True),
        (f"{X} > -1", 0, True),
        (f"{X} == 1.0", 1, True),  # ints and doubles compare by value
        (f"{X} < 1.5", 1, True),
        (f"{X} == 1", True, False),  # a bool never equals a number (unlike Python)
        (f"{X} == true", 1, False),
        (f"{X} == '1'", 1, False),  # nor a string
        (f"{X} == 'a'", "a", True),
        (f"{X} < 'b'", "a", True),  # strings order by code point
        (f"{X} > false", True, True),  # bools order false < true
        (f"{X} == null", None, True),
        (f"{X} == [1, 2]", [1, 2], None),  # list literals are not part of the grammar
        (f"{X} == true", True, True),
        (f"!({X} == true)", True, False),
        (f"!!({X} == true)", True, True),
        (f"{X} == 1 && {X} < 5", 1, True),
        (f"{X} == 1 && {X} > 5", 1, False),
        (f"{X} == 2 || {X} < 5", 1, True),
        (f"{X} == 2 || {X} > 5", 1, False),
        (f"{X} == 2 || {X} == 3 && {X} == 1", 1, False),  # && binds tighter than ||
        (f"({X} == 2 || {X} == 1) && {X} < 5", 1, True),
        ("true", None, True),
        ("false || true", None, True),
        (f'{X} == "it\\\'s"', "it's", True),  # CEL escapes (kfp itself never writes them)
        ("inputs.parameter_values[\"x\"] == 'a'", "a", True),
    ],
)
def test_operators(text: str, value: Any, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(InvalidInput):
            evaluate(text, _p(value))
        return
    assert evaluate(text, _p(value)) is expected


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        (f"int({X}) == 5", 5.0, True),  # the backend hands NUMBER_INTEGER values over as doubles
        (f"int({X}) == 5", 5.7, True),  # truncation toward zero
        (f"int({X}) == -5", -5.7, True),
        (f"int({X}) == 42", "42", True),
        (f"double({X}) == 0.5", "0.5", True),
        (f"double({X}) > 0.5", 1, True),
        (f"double(int({X})) == 3.0", 3, True),
    ],
)
def test_int_and_double(text: str, value: Any, expected: bool) -> None:
    assert evaluate(text, _p(value)) is expected


@pytest.mark.parametrize(
    ("text", "value", "needle"),
    [
        (f"int({X}) == 4", "4.2", "not an integer"),
        (f"int({X}) == 4", True, "int() of bool"),
        (f"int({X}) == 4", float("nan"), "int() of nan"),
        (f"int({X}) == 4", 1e30, "overflows int64"),
        (f"double({X}) == 4.0", "four", "not a number"),
        (f"{X} < 1", "a", "cannot order string < int"),
        (f"{X} < 1", True, "cannot order bool < int"),
        (f"{X} < 1", [1], "cannot order list < int"),
        (X, 1, "needs a bool"),
        (f"!{X}", 1, "needs a bool"),
        (f"-{X} == 1", "a", "needs a number"),
        ("inputs.parameter_values['y'] == 1", 1, "no value for parameter 'y'"),
    ],
)
def test_evaluation_errors(text: str, value: Any, needle: str) -> None:
    with pytest.raises(InvalidInput) as err:
        evaluate(text, _p(value))
    assert needle in err.value.message


def test_and_or_absorb_an_error_on_the_side_that_does_not_decide() -> None:
    # CEL: `error || true` is true and `error && false` is false; else the error stands.
    bad = "inputs.parameter_values['missing'] == 1"
    assert evaluate(f"{bad} || true", {}) is True
    assert evaluate(f"{bad} && false", {}) is False
    assert evaluate(f"true || {bad}", {}) is True
    with pytest.raises(InvalidInput, match="missing"):
        evaluate(f"{bad} || false", {})
    with pytest.raises(InvalidInput, match="missing"):
        evaluate(f"{bad} && true", {})


@pytest.mark.parametrize(
    ("text", "position", "needle"),
    [
        (f"{X} ==", 31, "end of condition"),
        (f"{X} = 1", 29, "unexpected character '='"),
        (f"int({X} == 1", 37, "expected ')'"),
        (f"{X} == 'abc", 32, "string literal is not closed"),
        (f"{X} == 1 1", 34, "or the end"),
        ("inputs.parameters['x'] == 1", 7, "'parameter_values'"),
        ("__import__('os').system('true')", 0, "expected a value"),
        ("len(inputs.parameter_values['x']) > 1", 0, "expected a value"),
        (f"{X} == 'a\\q'", 34, "unknown escape"),
        (f"{X} == 1 &", 34, "unexpected character '&'"),
    ],
)
def test_syntax_errors_name_the_position(text: str, position: int, needle: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_condition(text)
    message = err.value.message
    assert f"at position {position}:" in message
    assert needle in message
    assert "⟨here⟩" in message


def test_empty_condition_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        parse_condition("  ")


def test_parameters_lists_what_the_condition_reads() -> None:
    condition = parse_condition(
        "int(inputs.parameter_values['a']) < int(inputs.parameter_values['b']) && "
        "!(inputs.parameter_values['a'] == 3)"
    )
    assert condition.parameters == frozenset({"a", "b"})
    assert condition.evaluate({"a": 1, "b": 2}) is True
