"""Trigger conditions of `dsl.If / Elif / Else`: the CEL subset kfp compiles them to, evaluated
without `eval`.

kfp 2.x emits strings such as::

    int(inputs.parameter_values['pipelinechannel--seed']) < 10
    !(inputs.parameter_values['pipelinechannel--flip-Output'] == 'heads') && ...

The grammar accepted here (CEL precedence, a superset of what the compiler emits)::

    expr    := and ('||' and)*
    and     := rel ('&&' rel)*
    rel     := unary (('==' | '!=' | '<' | '<=' | '>' | '>=') unary)?
    unary   := '!' unary | '-' unary | primary
    primary := literal | '(' expr ')' | ('int' | 'double') '(' expr ')'
             | 'inputs' '.' 'parameter_values' '[' STRING ']'
    literal := STRING ('...' or "...", backslash escapes) | INT | FLOAT | true | false | null

Values follow CEL: numbers compare by value across int and double (`1 == 1.0`), a bool never
equals a number (`true == 1` is false, unlike Python), ordering a string against a number is an
error, and `&&` / `||` absorb an error on one side when the other side decides the result.
A condition that compares a bool channel with an int literal is compiled by kfp 2.17 to a
comparison with `false`; it cannot be told apart from a deliberate one and is evaluated as
written, as Vertex AI would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pmle.errors import InvalidInput

__all__ = ["Condition", "evaluate", "parse_condition"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "-", "(", ")", "[", "]", ".")
_NUMBER_RE = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True)
class _Token:
    kind: str  # "str", "num", "ident", "op", "end"
    value: Any
    pos: int
    end: int


# ---- AST -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _Param:
    name: str


@dataclass(frozen=True)
class _Call:
    function: str
    arg: _Node


@dataclass(frozen=True)
class _Unary:
    op: str  # "!" or "-"
    operand: _Node


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node


_Node = _Literal | _Param | _Call | _Unary | _Binary


class _EvalError(Exception):
    """A CEL runtime error; `&&` and `||` may absorb it."""


# ---- tokenizer -----------------------------------------------------------------------------


def _syntax_error(text: str, pos: int, what: str) -> InvalidInput:
    hint = "conditions come from dsl.If / dsl.Elif; fix the comparison in the pipeline"
    if re.search(r"""['"](int|double)?\(?inputs\.parameter_values\[""", text):
        hint = (
            "kfp compiled a comparison of a string channel with a non-string channel into a "
            "quoted expression; compare values of one type (e.g. cast the output to str)"
        )
    elif re.search(r"'[^']*'[A-Za-z_]", text):
        hint = (
            "a quote inside a string literal: kfp does not escape quotes in dsl.If "
            "conditions, so compare with a string that holds none"
        )
    shown = text[:pos] + "⟨here⟩" + text[pos:]
    return InvalidInput(f"condition is not valid CEL: {what} at position {pos}: {shown}", hint=hint)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, n = 0, len(text)
    while pos < n:
        ch = text[pos]
        if ch.isspace():
            pos += 1
            continue
        if ch in "'\"":
            value, end = _read_string(text, pos)
            tokens.append(_Token("str", value, pos, end))
            pos = end
            continue
        number = _NUMBER_RE.match(text, pos)
        if number:
            raw = number.group(0)
            is_float = number.group(1) is not None or number.group(2) is not None
            tokens.append(_Token("num", float(raw) if is_float else int(raw), pos, number.end()))
            pos = number.end()
            continue
        ident = _IDENT_RE.match(text, pos)
        if ident:
            tokens.append(_Token("ident", ident.group(0), pos, ident.end()))
            pos = ident.end()
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, pos)), None)
        if op is None:
            raise _syntax_error(text, pos, f"unexpected character {ch!r}")
        tokens.append(_Token("op", op, pos, pos + len(op)))
        pos += len(op)
    tokens.append(_Token("end", None, n, n))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote, pos = text[start], start + 1
    out: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == quote:
            return "".join(out), pos + 1
        if ch == "\\":
            escaped = text[pos + 1 : pos + 2]
            if escaped not in _ESCAPES:
                raise _syntax_error(text, pos, "unknown escape in string literal")
            out.append(_ESCAPES[escaped])
            pos += 2
            continue
        out.append(ch)
        pos += 1
    raise _syntax_error(text, start, "string literal is not closed")


# ---- parser --------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def _describe(self, tok: _Token) -> str:
        return "end of condition" if tok.kind == "end" else repr(self.text[tok.pos : tok.end])

    def error(self, expected: str) -> InvalidInput:
        tok = self.tok
        return _syntax_error(self.text, tok.pos, f"expected {expected}, got {self._describe(tok)}")

    def accept(self, kind: str, value: Any = None) -> _Token | None:
        tok = self.tok
        if tok.kind == kind and (value is None or tok.value == value):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, value: Any, expected: str) -> _Token:
        tok = self.accept(kind, value)
        if tok is None:
            raise self.error(expected)
        return tok

    def parse(self) -> _Node:
        node = self.parse_or()
        if self.tok.kind != "end":
            raise self.error("an operator ('&&', '||', '==', ...) or the end")
        return node

    def parse_or(self) -> _Node:
        node = self.parse_and()
        while self.accept("op", "||"):
            node = _Binary("||", node, self.parse_and())
        return node

    def parse_and(self) -> _Node:
        node = self.parse_rel()
        while self.accept("op", "&&"):
            node = _Binary("&&", node, self.parse_rel())
        return node

    def parse_rel(self) -> _Node:
        node = self.parse_unary()
        tok = self.tok
        if tok.kind == "op" and tok.value in _COMPARISONS:
            self.i += 1
            node = _Binary(tok.value, node, self.parse_unary())
        return node

    def parse_unary(self) -> _Node:
        if self.accept("op", "!"):
            return _Unary("!", self.parse_unary())
        if self.accept("op", "-"):
            return _Unary("-", self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> _Node:
        tok = self.tok
        if tok.kind in ("str", "num"):
            self.i += 1
            return _Literal(tok.value)
        if self.accept("op", "("):
            node = self.parse_or()
            self.expect("op", ")", "')'")
            return node
        if tok.kind == "ident":
            literals = {"true": True, "false": False, "null": None}
            if tok.value in literals:
                self.i += 1
                return _Literal(literals[tok.value])
            if tok.value in ("int", "double"):
                self.i += 1
                self.expect("op", "(", f"'(' after {tok.value}")
                arg = self.parse_or()
                self.expect("op", ")", "')'")
                return _Call(tok.value, arg)
            if tok.value == "inputs":
                return self.parse_parameter()
        raise self.error("a value: 'inputs.parameter_values[...]', a literal, int(), double()")

    def parse_parameter(self) -> _Node:
        self.expect("ident", "inputs", "'inputs'")
        self.expect("op", ".", "'.' after inputs")
        self.expect("ident", "parameter_values", "'parameter_values'")
        self.expect("op", "[", "'['")
        name = self.expect("str", None, "a quoted parameter name")
        self.expect("op", "]", "']'")
        return _Param(name.value)


# ---- evaluation ----------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if _type_name(a) != _type_name(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _order(op: str, a: Any, b: Any) -> bool:
    comparable = (
        (_is_number(a) and _is_number(b))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, bool) and isinstance(b, bool))
    )
    if not comparable:
        raise _EvalError(f"cannot order {_type_name(a)} {op} {_type_name(b)} ({a!r} {op} {b!r})")
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _EvalError(f"int() of {_type_name(value)} {value!r}")
    if isinstance(value, str):
        if not re.fullmatch(r"[+-]?\d+", value):
            raise _EvalError(f"int() of string {value!r}, which is not an integer")
        result = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _EvalError(f"int() of {value!r}")
        result = int(value)  # truncates toward zero, as CEL does
    else:
        result = value
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise _EvalError(f"int() of {value!r} overflows int64")
    return result


def _to_double(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _EvalError(f"double() of {_type_name(value)} {value!r}")
    try:
        return float(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise _EvalError(f"double() of string {value!r}, which is not a number")


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _EvalError(f"{where} needs a bool, got {_type_name(value)} {value!r}")
    return value


def _eval(node: _Node, values: Mapping[str, Any]) -> Any:
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _Param):
        if node.name not in values:
            raise _EvalError(f"no value for parameter {node.name!r}")
        return values[node.name]
    if isinstance(node, _Call):
        arg = _eval(node.arg, values)
        return _to_int(arg) if node.function == "int" else _to_double(arg)
    if isinstance(node, _Unary):
        operand = _eval(node.operand, values)
        if node.op == "!":
            return not _bool(operand, "'!'")
        if not _is_number(operand):
            raise _EvalError(f"'-' needs a number, got {_type_name(operand)} {operand!r}")
        return -operand
    if node.op in ("&&", "||"):
        return _eval_logic(node, values)
    left, right = _eval(node.left, values), _eval(node.right, values)
    if node.op == "==":
        return _equal(left, right)
    if node.op == "!=":
        return not _equal(left, right)
    return _order(node.op, left, right)


def _eval_logic(node: _Binary, values: Mapping[str, Any]) -> bool:
    # CEL's logical operators are commutative over errors: `error && false` is false.
    decisive = node.op == "||"  # the value of one side that decides the result
    left_error: _EvalError | None = None
    try:
        if _bool(_eval(node.left, values), repr(node.op)) is decisive:
            return decisive
    except _EvalError as exc:
        left_error = exc
    right = _bool(_eval(node.right, values), repr(node.op))
    if right is decisive:
        return decisive
    if left_error is not None:
        raise left_error
    return not decisive


def _parameters(node: _Node) -> set[str]:
    if isinstance(node, _Param):
        return {node.name}
    if isinstance(node, _Call):
        return _parameters(node.arg)
    if isinstance(node, _Unary):
        return _parameters(node.operand)
    if isinstance(node, _Binary):
        return _parameters(node.left) | _parameters(node.right)
    return set()


@dataclass(frozen=True)
class Condition:
    """A parsed trigger condition."""

    text: str
    _root: _Node

    @property
    def parameters(self) -> frozenset[str]:
        """The parameter names the condition reads (`inputs.parameter_values['NAME']`)."""
        return frozenset(_parameters(self._root))

    def evaluate(self, parameter_values: Mapping[str, Any]) -> bool:
        """True when the task should run, given the task's resolved input parameters."""
        try:
            result = _eval(self._root, parameter_values)
            return _bool(result, "a condition")
        except _EvalError as exc:
            raise InvalidInput(
                f"cannot evaluate condition {self.text!r}: {exc}",
                hint="check the types of the values the dsl.If compares",
            )


@lru_cache(maxsize=1024)
def parse_condition(text: str) -> Condition:
    """Parse a trigger condition; InvalidInput names the position of a syntax error."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("empty trigger condition", hint="recompile the pipeline with kfp")
    return Condition(text, _Parser(text).parse())


def evaluate(condition: str, parameter_values: Mapping[str, Any]) -> bool:
    """Evaluate a trigger condition against a task's resolved input parameters."""
    return parse_condition(condition).evaluate(parameter_values)
