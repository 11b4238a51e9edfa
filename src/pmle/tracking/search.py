"""Run searches: a filter string (MLflow's search syntax) and orderings, read into clauses.

    metrics.auc > 0.8 AND params.model = 'lgbm' AND tags.team != 'x' AND status = 'FINISHED'

- `metrics.KEY` compares the run's latest value of the metric (numbers);
- `params.KEY` compares as text, or as a number when the value given is a number
  (`params.lr < 0.1`), which MLflow's syntax cannot;
- `tags.KEY` compares as text;
- `attributes.NAME` or a bare `NAME`: `status`, `name`, `run_id` / `id`, `started_at`,
  `ended_at` (ISO times), `parent_id`.

Operators: `=`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE`, `ILIKE`, `IN ('a', 'b')`; clauses join with
`AND`. A key with spaces or dots is quoted with backticks: metrics.`val loss`. An ordering is
`FIELD [ASC|DESC]` with the same fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pmle.errors import InvalidInput

__all__ = ["ATTRIBUTES", "Clause", "Order", "parse_filter", "parse_order"]

#: attribute name → column of tracking_runs
ATTRIBUTES = {
    "status": "status",
    "name": "name",
    "run_name": "name",
    "id": "id",
    "run_id": "id",
    "started_at": "started_at",
    "start_time": "started_at",
    "ended_at": "ended_at",
    "end_time": "ended_at",
    "parent_id": "parent_id",
}
_KINDS = {"metrics": "metric", "metric": "metric", "params": "param", "param": "param"}
_KINDS |= {"tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute"}
_OPS = ("<=", ">=", "!=", "=", "<", ">")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<punct>[(),])
      | (?P<ident>(?:`[^`]+`|[A-Za-z_][\w\-]*)(?:\.(?:`[^`]+`|[\w\-:/]+))*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    """One comparison: `kind` metric | param | tag | attribute, its key, operator, value."""

    kind: str
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class Order:
    kind: str
    key: str
    descending: bool


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            at = len(text) - len(text[pos:].lstrip())
            raise InvalidInput(
                f"cannot read the filter at position {at + 1}: {text[at : at + 20]!r}",
                hint="e.g. metrics.auc > 0.8 AND params.model = 'lgbm'",
            )
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


def _field(ident: str) -> tuple[str, str]:
    """(kind, key) of `metrics.auc`, `params.`a b``, `status`, ..."""
    head, dot, rest = ident.partition(".")
    head_key = head.strip("`")
    if dot and head_key.lower() in _KINDS:
        kind = _KINDS[head_key.lower()]
        key = rest.strip("`") if rest.startswith("`") and rest.endswith("`") else rest
    else:
        kind, key = "attribute", ident.strip("`")
    if kind == "attribute":
        name = key.lower()
        if name not in ATTRIBUTES:
            raise InvalidInput(
                f"unknown run attribute {key!r}",
                hint="use metrics.KEY, params.KEY, tags.KEY or one of: "
                + ", ".join(sorted(ATTRIBUTES)),
            )
        key = ATTRIBUTES[name]
    if not key:
        raise InvalidInput(f"{ident!r} names no key", hint="e.g. metrics.auc")
    return kind, key


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        quote = text[0]
        return text[1:-1].replace(quote * 2, quote)
    if kind == "number":
        number = float(text)
        return (
            int(number)
            if number.is_integer() and "." not in text and "e" not in text.lower()
            else number
        )
    raise InvalidInput(f"expected a value, found {text!r}")


def parse_filter(text: str | None) -> list[Clause]:
    """The clauses of a filter string (empty for None or blank)."""
    if text is None or not text.strip():
        return []
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0

    def need(index: int) -> tuple[str, str, int]:
        if index >= len(tokens):
            raise InvalidInput(f"the filter {text!r} ends too early")
        return tokens[index]

    while True:
        kind, value, _ = need(i)
        if kind != "ident":
            raise InvalidInput(f"expected a field such as metrics.auc, found {value!r}")
        field_kind, key = _field(value)
        op_kind, op, _ = need(i + 1)
        i += 2
        if op_kind == "op":
            op = {"==": "=", "<>": "!="}.get(op, op)
            lit_kind, lit, _ = need(i)
            operand: Any = _literal(lit_kind, lit)
            i += 1
        elif op_kind == "ident" and op.upper() in {"LIKE", "ILIKE"}:
            op = op.upper()
            lit_kind, lit, _ = need(i)
            if lit_kind != "string":
                raise InvalidInput(f"{op} needs a quoted pattern, found {lit!r}")
            operand = _literal(lit_kind, lit)
            i += 1
        elif op_kind == "ident" and op.upper() in {"IN", "NOT"}:
            negate = op.upper() == "NOT"
            if negate:
                if need(i)[1].upper() != "IN":
                    raise InvalidInput("expected IN after NOT")
                i += 1
            if need(i)[1] != "(":
                raise InvalidInput("IN needs a list: IN ('a', 'b')")
            i += 1
            items: list[Any] = []
            while True:
                lit_kind, lit, _ = need(i)
                items.append(_literal(lit_kind, lit))
                sep = need(i + 1)[1]
                i += 2
                if sep == ")":
                    break
                if sep != ",":
                    raise InvalidInput(f"expected ',' or ')' in the IN list, found {sep!r}")
            op, operand = ("NOT IN" if negate else "IN"), tuple(items)
        else:
            raise InvalidInput(
                f"expected a comparison after {value}, found {op!r}",
                hint="=, !=, <, <=, >, >=, LIKE, ILIKE, IN (...)",
            )
        if field_kind == "metric" and op in {"LIKE", "ILIKE"}:
            raise InvalidInput("metrics compare as numbers: LIKE does not apply")
        if field_kind == "metric" and not _numbers(operand):
            raise InvalidInput(f"metrics.{key} compares with numbers, got {operand!r}")
        clauses.append(Clause(field_kind, key, op, operand))
        if i >= len(tokens):
            return clauses
        joiner = tokens[i]
        if joiner[0] != "ident" or joiner[1].upper() != "AND":
            raise InvalidInput(
                f"expected AND between clauses, found {joiner[1]!r}",
                hint="clauses join with AND (OR is not supported)",
            )
        i += 1


def _numbers(value: Any) -> bool:
    values = value if isinstance(value, tuple) else (value,)
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def parse_order(items: Sequence[str] | str | None) -> list[Order]:
    """Orderings like `metrics.auc DESC`, `params.lr`, `started_at desc`."""
    if items is None:
        return []
    listed = [items] if isinstance(items, str) else list(items)
    out: list[Order] = []
    for item in listed:
        text = item.strip()
        descending = False
        upper = text.upper()
        if upper.endswith(" DESC"):
            text, descending = text[:-5].strip(), True
        elif upper.endswith(" ASC"):
            text = text[:-4].strip()
        if not text:
            raise InvalidInput(f"cannot read the ordering {item!r}", hint="e.g. metrics.auc DESC")
        kind, key = _field(text)
        out.append(Order(kind, key, descending))
    return out
