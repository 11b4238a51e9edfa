"""TRANSFORM: preprocessing saved with the model and applied again at prediction.

Each TRANSFORM item is SQL over the input columns. The analytic preprocessing functions are
computed once over the training rows and replaced by constants, so the saved SQL gives the
same output at prediction as at training:

- `ML.STANDARD_SCALER(x) OVER()` → `(x - mean) / stddev`
- `ML.MIN_MAX_SCALER(x) OVER()` → `(x - min) / (max - min)`, capped to [0, 1]
- `ML.BUCKETIZE(x, [splits])` → `'bin_1'` … (no statistics)
- `ML.QUANTILE_BUCKETIZE(x, n) OVER()` → `'bin_1'` … by the training quantiles
- `ML.IMPUTER(x, 'mean' | 'median' | 'most_frequent') OVER()` → `COALESCE(x, value)`
- `ML.LABEL_ENCODER(x) OVER()` → 1.. by the sorted training values, 0 for unseen / NULL
- `ML.ONE_HOT_ENCODER(x) OVER()` → `x` limited to the training values (NULL otherwise);
  the model one-hot encodes it
- `ML.FEATURE_CROSS(STRUCT(a, b))` → `a || '_' || b`
- `ML.POLYNOMIAL_EXPAND(STRUCT(a, b), degree)` → the products of the columns up to the degree,
  as a STRUCT whose fields become the columns `<name>_<field>`

Other SQL (casts, arithmetic, CASE, …) runs as written, in DuckDB. The compiled items run
as one `SELECT` over the input rows (a DuckDB query over the pandas frame).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pmle.errors import InvalidInput
from pmle.sqlml.lexer import syntax_error, tokenize

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from pmle.sqlml.parse import TransformItem

__all__ = ["Transform", "compile_transform"]

_INPUT = "__pmle_input"
PREPROCESSORS = frozenset(
    {
        "STANDARD_SCALER",
        "MIN_MAX_SCALER",
        "BUCKETIZE",
        "QUANTILE_BUCKETIZE",
        "IMPUTER",
        "LABEL_ENCODER",
        "ONE_HOT_ENCODER",
        "FEATURE_CROSS",
        "POLYNOMIAL_EXPAND",
    }
)


def _sandboxed() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read no file and change no setting: a saved TRANSFORM
    only ever computes over the rows it is given."""
    import duckdb

    return duckdb.connect(config={"enable_external_access": False, "lock_configuration": True})


def check_expression(sql: str) -> str:
    """`sql` when it is one expression (no `;` outside strings), else InvalidInput."""
    if any(t.kind == "op" and t.text == ";" for t in tokenize(sql)):
        raise InvalidInput(f"a TRANSFORM item must be one expression, got {sql!r}")
    return sql


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class Transform:
    """The compiled TRANSFORM: output names and SQL expressions (constants inlined), the
    input columns passed through by `*`, and the output columns that are STRUCTs to flatten."""

    items: list[tuple[str, str]]  # (output name, SQL over the input columns)
    structs: list[str] = field(default_factory=list)

    def apply(self, frame: pd.DataFrame, *, label: str | None = None) -> pd.DataFrame:
        """The transformed rows of `frame`. The label's item (named `label`) is computed when
        the rows hold what it reads (evaluation rows), and skipped when they do not (rows to
        predict)."""
        try:
            out = self._select(frame, self.items)
        except InvalidInput:
            if label is None or not any(name == label for name, _ in self.items):
                raise
            out = self._select(frame, [(n, s) for n, s in self.items if n != label])
        return self._flatten(out, frame)

    def _select(self, frame: pd.DataFrame, items: list[tuple[str, str]]) -> pd.DataFrame:
        import duckdb

        con = _sandboxed()
        try:
            con.register(_INPUT, frame)
            select = ", ".join(f"{sql} AS {_q(name)}" for name, sql in items)
            try:
                return con.sql(f"SELECT {select} FROM {_INPUT}").df()
            except duckdb.Error as exc:
                message = str(exc).strip().splitlines()[0]
                raise InvalidInput(f"the model's TRANSFORM failed on this input: {message}")
        finally:
            con.close()

    def _flatten(self, out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        for name in self.structs:
            if name in out.columns:
                expanded = out[name].apply(lambda v: v or {}).apply(lambda v: dict(v))
                keys = sorted({k for row in expanded for k in row})
                for key in keys:
                    out[f"{name}_{key}"] = expanded.map(lambda v, k=key: v.get(k))
                out = out.drop(columns=[name])
        out.index = frame.index
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"items": [list(i) for i in self.items], "structs": self.structs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transform:
        items = [(str(n), check_expression(str(q))) for n, q in data["items"]]
        return cls(items, list(data.get("structs") or []))


def compile_transform(
    items: list[TransformItem], con: duckdb.DuckDBPyConnection, relation: str, source: str
) -> Transform:
    """Compile TRANSFORM `items` against the training rows in `relation` (a table or view on
    `con`): statistics computed, constants inlined. `source` is the statement (for errors)."""
    columns = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    out: list[tuple[str, str]] = []
    structs: list[str] = []
    for item in items:
        if item.star:
            missing = [c for c in item.except_ if c not in columns]
            if missing:
                raise InvalidInput(f"TRANSFORM * EXCEPT names unknown column(s) {missing}")
            out.extend((c, _q(c)) for c in columns if c not in item.except_)
            continue
        assert item.alias is not None
        sql, is_struct = _compile_expression(
            check_expression(item.expression), con, relation, source
        )
        out.append((item.alias, sql))
        if is_struct:
            structs.append(item.alias)
    names = [n for n, _ in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInput(f"TRANSFORM outputs {dupes} more than once")
    transform = Transform(out, structs)
    try:  # fail now, naming the problem, rather than at the first prediction
        con.sql(f"SELECT {', '.join(f'{s} AS {_q(n)}' for n, s in out)} FROM {relation} LIMIT 1")
    except Exception as exc:
        raise InvalidInput(f"TRANSFORM is not valid SQL here: {str(exc).splitlines()[0]}")
    return transform


_CALL = re.compile(r"ML\s*\.\s*([A-Za-z_]+)\s*\(", re.IGNORECASE)


def _compile_expression(
    expression: str, con: duckdb.DuckDBPyConnection, relation: str, source: str
) -> tuple[str, bool]:
    """`expression` with every ML preprocessing call replaced; whether it is a STRUCT."""
    tokens = tokenize(expression)
    out: list[str] = []
    last = 0
    is_struct = False
    i = 0
    while i < len(tokens) - 3:
        t0, t1, t2, t3 = tokens[i : i + 4]
        if (
            t0.is_word("ML")
            and t1.text == "."
            and t2.kind == "word"
            and t3.text == "("
            and t2.upper in PREPROCESSORS
        ):
            args, after = _args(expression, tokens, i + 3)
            end = tokens[after - 1].end
            j = after
            if tokens[j].is_word("OVER"):  # OVER () — the whole training set
                depth, j = 0, j + 1
                while tokens[j].kind != "end":
                    if tokens[j].text == "(":
                        depth += 1
                    elif tokens[j].text == ")":
                        depth -= 1
                        if depth == 0:
                            j += 1
                            break
                    j += 1
                end = tokens[j - 1].end
            sql, struct = _preprocess(t2.upper, args, con, relation, source)
            is_struct = is_struct or struct
            out.append(expression[last : t0.start])
            out.append(sql)
            last = end
            i = j
            continue
        i += 1
    out.append(expression[last:])
    return "".join(out).strip(), is_struct


def _args(text: str, tokens: list[Any], open_index: int) -> tuple[list[str], int]:
    """The top-level argument texts of a call whose `(` is tokens[open_index]; the index
    after its `)`."""
    depth, begin, args = 0, tokens[open_index].end, []
    i = open_index
    while True:
        tok = tokens[i]
        if tok.kind == "end":
            raise InvalidInput(f"unclosed call in TRANSFORM: {text}")
        if tok.kind == "op" and tok.text in "([":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]":
            depth -= 1
            if depth == 0:
                if text[begin : tok.start].strip():
                    args.append(text[begin : tok.start].strip())
                return args, i + 1
        elif tok.kind == "op" and tok.text == "," and depth == 1:
            args.append(text[begin : tok.start].strip())
            begin = tok.end
        i += 1


def _row(con: duckdb.DuckDBPyConnection, query: str) -> tuple[Any, ...]:
    row = con.execute(query).fetchone()
    assert row is not None  # an aggregate always returns one row
    return tuple(row)


def _scalar(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    return _row(con, query)[0]


def _constant(text: str) -> Any:
    """A constant argument (number, string, array of numbers)."""
    import json

    text = text.strip()
    if text.startswith("'") or text.startswith('"'):
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(f"expected a constant in TRANSFORM, got {text!r}") from None


def _struct_fields(text: str) -> list[str]:
    inner = re.match(r"^\s*STRUCT\s*\((.*)\)\s*$", text, re.IGNORECASE | re.DOTALL)
    if inner is None:
        raise InvalidInput(f"expected STRUCT(a, b, ...) in TRANSFORM, got {text!r}")
    tokens = tokenize(inner.group(1))
    fields, begin, depth = [], 0, 0
    body = inner.group(1)
    for tok in tokens:
        if tok.kind == "op" and tok.text in "([":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]":
            depth -= 1
        elif (tok.kind == "op" and tok.text == "," and depth == 0) or tok.kind == "end":
            fields.append(body[begin : tok.start].strip())
            begin = tok.end
    return [f for f in fields if f]


def _bins(x: str, splits: list[float]) -> str:
    cases = " ".join(f"WHEN {x} < {float(s)!r} THEN 'bin_{i + 1}'" for i, s in enumerate(splits))
    return f"(CASE WHEN {x} IS NULL THEN NULL {cases} ELSE 'bin_{len(splits) + 1}' END)"


def _preprocess(
    name: str, args: list[str], con: duckdb.DuckDBPyConnection, relation: str, source: str
) -> tuple[str, bool]:
    """One preprocessing call as SQL with its training statistics inlined; a bad argument
    (an unknown column, a string to scale) is InvalidInput naming the function."""
    import duckdb

    try:
        return _preprocess_sql(name, args, con, relation, source)
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0]
        raise InvalidInput(f"ML.{name}({', '.join(args)}) in TRANSFORM: {message}") from None


def _preprocess_sql(
    name: str, args: list[str], con: duckdb.DuckDBPyConnection, relation: str, source: str
) -> tuple[str, bool]:
    if not args:
        raise InvalidInput(f"ML.{name} needs an argument")
    x = f"({args[0]})"
    rel = relation
    if name == "STANDARD_SCALER":
        mean, std = _row(con, f"SELECT avg({x}), stddev_samp({x}) FROM {rel}")
        std = std if std not in (None, 0) else 1.0
        return f"(({x} - {float(mean or 0.0)!r}) / {float(std)!r})", False
    if name == "MIN_MAX_SCALER":
        lo, hi = _row(con, f"SELECT min({x}), max({x}) FROM {rel}")
        span = (hi - lo) if hi is not None and lo is not None and hi != lo else 1.0
        low = float(lo or 0.0)
        return f"LEAST(GREATEST(({x} - {low!r}) / {float(span)!r}, 0.0), 1.0)", False
    if name == "BUCKETIZE":
        if len(args) < 2:
            raise InvalidInput("ML.BUCKETIZE(x, [split points]) needs the split points")
        splits = _constant(args[1])
        if not isinstance(splits, list) or sorted(splits) != splits:
            raise InvalidInput("ML.BUCKETIZE's split points are an ascending array")
        return _bins(x, splits), False
    if name == "QUANTILE_BUCKETIZE":
        if len(args) < 2:
            raise InvalidInput("ML.QUANTILE_BUCKETIZE(x, num_buckets) needs the bucket count")
        n = int(_constant(args[1]))
        if n < 2:
            raise InvalidInput("ML.QUANTILE_BUCKETIZE needs at least 2 buckets")
        qs = ", ".join(str(k / n) for k in range(1, n))
        cuts = _scalar(con, f"SELECT quantile_cont({x}, [{qs}]) FROM {rel}") or []
        cuts = sorted({float(c) for c in cuts if c is not None})
        return _bins(x, cuts), False
    if name == "IMPUTER":
        strategy = str(_constant(args[1])).lower() if len(args) > 1 else "mean"
        agg = {"mean": "avg", "median": "median", "most_frequent": "mode"}.get(strategy)
        if agg is None:
            raise InvalidInput("ML.IMPUTER's strategy is 'mean', 'median' or 'most_frequent'")
        value = _scalar(con, f"SELECT {agg}({x}) FROM {rel}")
        return f"COALESCE({x}, {_lit(value)})", False
    if name in {"LABEL_ENCODER", "ONE_HOT_ENCODER"}:
        if len(args) > 1:
            raise InvalidInput(
                f"ML.{name} takes only the column here: drop, top_k and frequency_threshold "
                "are not supported",
                hint=f"write ML.{name}({args[0]}) OVER ()",
            )
        values = [
            r[0]
            for r in con.sql(
                f"SELECT DISTINCT CAST({x} AS VARCHAR) v FROM {rel} "
                f"WHERE {x} IS NOT NULL ORDER BY v"
            ).fetchall()
        ]
        if name == "ONE_HOT_ENCODER":
            listed = ", ".join(_lit(v) for v in values) or "NULL"
            return (
                f"(CASE WHEN CAST({x} AS VARCHAR) IN ({listed}) THEN CAST({x} AS VARCHAR) END)",
                False,
            )
        cases = " ".join(f"WHEN {_lit(v)} THEN {i + 1}" for i, v in enumerate(values))
        return f"(CASE CAST({x} AS VARCHAR) {cases} ELSE 0 END)", False
    if name == "FEATURE_CROSS":
        fields = _struct_fields(args[0])
        if len(fields) < 2:
            raise InvalidInput("ML.FEATURE_CROSS(STRUCT(a, b, ...)) needs two or more columns")
        return "(" + " || '_' || ".join(f"CAST(({f}) AS VARCHAR)" for f in fields) + ")", False
    if name == "POLYNOMIAL_EXPAND":
        fields = _struct_fields(args[0])
        degree = int(_constant(args[1])) if len(args) > 1 else 2
        if not 1 <= degree <= 4:
            raise InvalidInput("ML.POLYNOMIAL_EXPAND's degree is 1 to 4")
        names = [re.sub(r"\W+", "_", f).strip("_") for f in fields]
        terms = []
        for d in range(1, degree + 1):
            for combo in itertools.combinations_with_replacement(range(len(fields)), d):
                key = "_".join(names[i] for i in combo)
                product = " * ".join(f"CAST(({fields[i]}) AS DOUBLE)" for i in combo)
                terms.append(f"{_q(key)} := {product}")
        return f"struct_pack({', '.join(terms)})", True
    raise syntax_error(source, 0, f"ML.{name} is not a TRANSFORM function")
