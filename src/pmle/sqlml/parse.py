"""Reading BigQuery ML statements: scripts split into statements (:func:`split_statements`),
`CREATE MODEL` / `DROP MODEL` (:func:`parse_statement`), and the `ML.*` table functions inside
any other statement (:func:`find_ml_calls`). What is not BigQuery ML stays text for DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pmle.sqlml.lexer import Token, skip_comment, syntax_error, tokenize

__all__ = [
    "TABLE_FUNCTIONS",
    "Arg",
    "CreateModel",
    "DropModel",
    "MLCall",
    "Statement",
    "TransformItem",
    "find_ml_calls",
    "leading_ctes",
    "parse_statement",
    "split_statements",
]

#: The ML.* table functions pmle answers (BigQuery ML's names).
TABLE_FUNCTIONS = frozenset(
    {
        "PREDICT",
        "EVALUATE",
        "CONFUSION_MATRIX",
        "ROC_CURVE",
        "FEATURE_IMPORTANCE",
        "TRAINING_INFO",
        "EXPLAIN_PREDICT",
        "GLOBAL_EXPLAIN",
        "FORECAST",
        "EXPLAIN_FORECAST",
        "DETECT_ANOMALIES",
        "WEIGHTS",
        "CENTROIDS",
        "PRINCIPAL_COMPONENTS",
        "PRINCIPAL_COMPONENT_INFO",
        "RECOMMEND",
        "ARIMA_EVALUATE",
        "ARIMA_COEFFICIENTS",
        "VALIDATE_DATA_SKEW",
        "VALIDATE_DATA_DRIFT",
    }
)


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its text and where it starts in the script."""

    text: str
    start: int


@dataclass(frozen=True)
class TransformItem:
    """One item of a TRANSFORM clause: an expression (SQL text) and its output name; `*` with
    `except_` names for `* EXCEPT (...)`."""

    expression: str
    alias: str | None
    star: bool = False
    except_: tuple[str, ...] = ()


@dataclass
class CreateModel:
    """`CREATE [OR REPLACE] MODEL [IF NOT EXISTS] name [TRANSFORM(...)] OPTIONS(...) AS query`."""

    name: str  # the model's name in the registry (the last part of a qualified name)
    qualified: str
    replace: bool
    if_not_exists: bool
    transform: list[TransformItem] | None
    options: dict[str, Any]
    query: str | None
    source: str  # the statement's text (for errors and lineage)
    option_positions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DropModel:
    """`DROP MODEL [IF EXISTS] name`."""

    name: str
    if_exists: bool


@dataclass(frozen=True)
class Arg:
    """An argument of an ML.* table function: `MODEL name`, `TABLE name`, `(query)`, a
    `STRUCT(value AS name, ...)` of settings, or another constant."""

    kind: str  # model | table | query | struct | value
    value: Any
    start: int


@dataclass(frozen=True)
class MLCall:
    """An ML.* table function call in a statement: its name, arguments and text span."""

    function: str
    args: tuple[Arg, ...]
    start: int
    end: int


# ---- scripts ---------------------------------------------------------------------------------


def split_statements(script: str) -> list[Statement]:
    """The non-empty statements of a script, split at `;` outside strings and comments."""
    out: list[Statement] = []
    begin, i = 0, 0
    while i < len(script):
        after = skip_comment(script, i)
        if after != i:
            i = after
            continue
        ch = script[i]
        if ch in "'\"`":
            j = i + 1
            while j < len(script):
                if script[j] == "\\" and ch != "`":
                    j += 2
                    continue
                if script[j] == ch:
                    break
                j += 1
            if j >= len(script):
                raise syntax_error(script, i, f"unterminated {ch}-quoted text")
            i = j + 1
            continue
        if ch == ";":
            _add(out, script, begin, i)
            begin = i + 1
        i += 1
    _add(out, script, begin, len(script))
    return out


def _add(out: list[Statement], script: str, begin: int, end: int) -> None:
    tokens = tokenize(script, begin, end)
    if tokens[0].kind != "end":
        start = tokens[0].start
        out.append(Statement(script[start:end].rstrip(), start))


# ---- a token cursor --------------------------------------------------------------------------


class _Cursor:
    def __init__(self, source: str, tokens: list[Token], pos: int = 0) -> None:
        self.source, self.tokens, self.pos = source, tokens, pos

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.tok
        if tok.kind != "end":
            self.pos += 1
        return tok

    def accept_word(self, *words: str) -> Token | None:
        if self.tok.is_word(*words):
            return self.next()
        return None

    def accept_op(self, op: str) -> Token | None:
        if self.tok.kind == "op" and self.tok.text == op:
            return self.next()
        return None

    def expect_word(self, *words: str) -> Token:
        tok = self.accept_word(*words)
        if tok is None:
            raise self.error(f"expected {' or '.join(words)}")
        return tok

    def expect_op(self, op: str) -> Token:
        tok = self.accept_op(op)
        if tok is None:
            raise self.error(f"expected {op!r}")
        return tok

    def error(self, message: str, at: Token | None = None) -> Exception:
        tok = at or self.tok
        found = "the end of the statement" if tok.kind == "end" else repr(tok.text)
        return syntax_error(self.source, tok.start, f"{message}, found {found}")

    def skip_group(self) -> Token:
        """From an opening `(` / `[`, past its matching closer; returns the closer."""
        opener = self.next()
        depth = 1
        while depth:
            tok = self.next()
            if tok.kind == "end":
                raise syntax_error(self.source, opener.start, f"{opener.text!r} is never closed")
            if tok.kind == "op" and tok.text in "([":
                depth += 1
            elif tok.kind == "op" and tok.text in ")]":
                depth -= 1
                if depth == 0:
                    return tok
        raise AssertionError("unreachable")


def _name(cur: _Cursor, what: str) -> tuple[str, str]:
    """A possibly qualified name (`a.b.c`, `` `a.b.c` ``, `` `m@2` ``): (last part, whole)."""
    parts: list[str] = []
    while True:
        tok = cur.tok
        if tok.kind not in {"word", "name"}:
            raise cur.error(f"expected {what}")
        cur.next()
        parts.extend(tok.text.split(".") if tok.kind == "name" else [tok.text])
        if not cur.accept_op("."):
            break
    whole = ".".join(parts)
    return parts[-1], whole


# ---- CREATE MODEL / DROP MODEL ---------------------------------------------------------------


def parse_statement(source: str) -> CreateModel | DropModel | None:
    """`source` as CREATE MODEL or DROP MODEL, or None for any other statement."""
    tokens = tokenize(source)
    cur = _Cursor(source, tokens)
    if cur.accept_word("DROP"):
        if not cur.accept_word("MODEL"):
            return None
        if_exists = bool(cur.accept_word("IF") and cur.expect_word("EXISTS"))
        name, _ = _name(cur, "a model name")
        if cur.tok.kind != "end":
            raise cur.error("expected the end of DROP MODEL")
        return DropModel(name, if_exists)
    if not cur.accept_word("CREATE"):
        return None
    replace = bool(cur.accept_word("OR") and cur.expect_word("REPLACE"))
    if not cur.accept_word("MODEL"):
        if replace or not cur.tok.is_word("TEMP", "TEMPORARY"):
            return None
        return None
    if_not_exists = False
    if cur.accept_word("IF"):
        cur.expect_word("NOT")
        cur.expect_word("EXISTS")
        if_not_exists = True
    name, qualified = _name(cur, "a model name")
    transform = None
    if cur.accept_word("TRANSFORM"):
        transform = _transform(cur)
    if cur.tok.is_word("INPUT", "OUTPUT", "REMOTE"):
        raise cur.error("remote and imported models are not supported here")
    options: dict[str, Any] = {}
    positions: dict[str, int] = {}
    if cur.accept_word("OPTIONS"):
        options, positions = _options(cur)
    query = None
    if cur.accept_word("AS"):
        if cur.tok.kind == "end":
            raise cur.error("expected the training query after AS")
        query = _strip_parens(source[cur.tok.start :].strip())
    elif cur.tok.kind != "end":
        raise cur.error("expected OPTIONS(...) or AS query")
    return CreateModel(
        name, qualified, replace, if_not_exists, transform, options, query, source, positions
    )


def _strip_parens(text: str) -> str:
    """`(SELECT …)` → `SELECT …` when the parentheses wrap the whole text."""
    while text.startswith("(") and text.endswith(")"):
        tokens = tokenize(text)
        cur = _Cursor(text, tokens)
        closer = cur.skip_group()
        if closer.end != len(text):
            break
        text = text[1:-1].strip()
    return text


def _split_top(cur: _Cursor) -> list[tuple[int, int]]:
    """Inside `( … )` (the cursor on the `(`): the spans of the comma-separated items; the
    cursor ends after the `)`."""
    opener = cur.expect_op("(")
    spans: list[tuple[int, int]] = []
    begin = cur.tok.start
    while True:
        tok = cur.tok
        if tok.kind == "end":
            raise syntax_error(cur.source, opener.start, "'(' is never closed")
        if tok.kind == "op" and tok.text in "([":
            cur.skip_group()
            continue
        if tok.kind == "op" and tok.text in {",", ")"}:
            if cur.source[begin : tok.start].strip():
                spans.append((begin, tok.start))
            elif tok.text == ",":
                raise cur.error("expected an item before ','")
            cur.next()
            if tok.text == ")":
                return spans
            begin = cur.tok.start
            continue
        cur.next()


def _transform(cur: _Cursor) -> list[TransformItem]:
    items: list[TransformItem] = []
    for begin, end in _split_top(cur):
        tokens = tokenize(cur.source, begin, end)
        if tokens[0].kind == "op" and tokens[0].text == "*":
            excepted: tuple[str, ...] = ()
            if tokens[1].is_word("EXCEPT"):
                inner = _Cursor(cur.source, tokens, 2)
                excepted = tuple(cur.source[a:b].strip().strip('`"') for a, b in _split_top(inner))
            items.append(TransformItem("*", None, star=True, except_=excepted))
            continue
        alias = None
        expr_end = end
        if len(tokens) >= 3 and tokens[-3].is_word("AS") and tokens[-2].kind in {"word", "name"}:
            alias = tokens[-2].text
            expr_end = tokens[-3].start
        expression = cur.source[begin:expr_end].strip()
        if alias is None:
            only = [t for t in tokens if t.kind != "end"]
            if len(only) == 1 and only[0].kind in {"word", "name"}:
                alias = only[0].text
            else:
                raise syntax_error(
                    cur.source, begin, "a TRANSFORM expression needs a name: expr AS name"
                )
        items.append(TransformItem(expression, alias))
    if not items:
        raise cur.error("TRANSFORM needs at least one item")
    return items


def _options(cur: _Cursor) -> tuple[dict[str, Any], dict[str, int]]:
    cur.expect_op("(")
    options: dict[str, Any] = {}
    positions: dict[str, int] = {}
    if cur.accept_op(")"):
        return options, positions
    while True:
        key = cur.tok
        if key.kind not in {"word", "name"}:
            raise cur.error("expected an option name")
        cur.next()
        cur.expect_op("=")
        name = key.text.lower()
        if name in options:
            raise syntax_error(cur.source, key.start, f"option {name!r} is given twice")
        options[name] = _value(cur)
        positions[name] = key.start
        if cur.accept_op(")"):
            return options, positions
        cur.expect_op(",")


def _value(cur: _Cursor) -> Any:
    """A constant: string, number (with a sign), TRUE / FALSE / NULL, `[...]`, STRUCT(...)."""
    tok = cur.tok
    if tok.kind == "string":
        cur.next()
        return tok.text
    if tok.kind == "op" and tok.text in {"-", "+"} and cur.peek().kind == "number":
        cur.next()
        number = _number(cur.next())
        return -number if tok.text == "-" else number
    if tok.kind == "number":
        return _number(cur.next())
    if tok.is_word("TRUE", "FALSE"):
        cur.next()
        return tok.upper == "TRUE"
    if tok.is_word("NULL"):
        cur.next()
        return None
    if tok.kind == "op" and tok.text == "[":
        cur.next()
        values: list[Any] = []
        if cur.accept_op("]"):
            return values
        while True:
            values.append(_value(cur))
            if cur.accept_op("]"):
                return values
            cur.expect_op(",")
    if tok.kind == "op" and tok.text == "(":  # a tuple: non_seasonal_order=(1, 1, 1)
        cur.next()
        items = [_value(cur)]
        while not cur.accept_op(")"):
            cur.expect_op(",")
            items.append(_value(cur))
        return tuple(items)
    if tok.is_word("STRUCT"):
        cur.next()
        cur.expect_op("(")
        fields: list[Any] = []
        while True:
            value = _value(cur)
            if cur.accept_word("AS"):
                name = cur.next()
                fields.append((name.text.lower(), value))
            else:
                fields.append((None, value))
            if cur.accept_op(")"):
                break
            cur.expect_op(",")
        if all(n is not None for n, _ in fields):
            return {n: v for n, v in fields}
        return tuple(v for _, v in fields)
    if tok.kind == "word":  # BigQuery ML accepts some bare keywords (e.g. AUTO_SPLIT)
        cur.next()
        return tok.text
    raise cur.error("expected a value")


def _number(tok: Token) -> int | float:
    text = tok.text
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


# ---- ML.* table functions --------------------------------------------------------------------


def find_ml_calls(source: str) -> list[MLCall]:
    """The outermost ML.* table function calls of a statement, in order."""
    tokens = tokenize(source)
    calls: list[MLCall] = []
    i = 0
    while i < len(tokens) - 3:
        t0, t1, t2, t3 = tokens[i], tokens[i + 1], tokens[i + 2], tokens[i + 3]
        if (
            t0.is_word("ML")
            and t1.kind == "op"
            and t1.text == "."
            and t2.kind == "word"
            and t3.kind == "op"
            and t3.text == "("
            and t2.upper in TABLE_FUNCTIONS
        ):
            cur = _Cursor(source, tokens, i + 3)
            args = _call_args(cur)
            calls.append(MLCall(t2.upper, tuple(args), t0.start, tokens[cur.pos - 1].end))
            i = cur.pos
            continue
        i += 1
    return calls


def _call_args(cur: _Cursor) -> list[Arg]:
    args: list[Arg] = []
    cur.expect_op("(")
    if cur.accept_op(")"):
        return args
    while True:
        tok = cur.tok
        if tok.is_word("MODEL") and cur.peek().kind in {"word", "name"}:
            cur.next()
            _, whole = _name(cur, "a model name")
            args.append(Arg("model", whole, tok.start))
        elif tok.is_word("TABLE") and cur.peek().kind in {"word", "name"}:
            cur.next()
            start = cur.tok.start
            _name(cur, "a table name")
            args.append(Arg("table", cur.source[start : cur.tokens[cur.pos - 1].end], tok.start))
        elif tok.kind == "op" and tok.text == "(":
            closer = cur.skip_group()
            text = _strip_parens(cur.source[tok.start : closer.end])
            args.append(Arg("query", text, tok.start))
        elif tok.is_word("STRUCT"):
            args.append(Arg("struct", _value(cur), tok.start))
        else:
            args.append(Arg("value", _value(cur), tok.start))
        if cur.accept_op(")"):
            return args
        cur.expect_op(",")


def leading_ctes(source: str, before: int) -> str | None:
    """`WITH a AS (...), b AS (...)` of a statement: the common table expressions that end
    before position `before` (an inner query there may read them), as a WITH clause."""
    tokens = tokenize(source)
    cur = _Cursor(source, tokens)
    if not cur.accept_word("WITH"):
        return None
    cur.accept_word("RECURSIVE")
    parts: list[str] = []
    while True:
        begin = cur.tok.start
        if cur.tok.kind not in {"word", "name"}:
            return None
        cur.next()
        if cur.tok.kind == "op" and cur.tok.text == "(":  # column list
            cur.skip_group()
        if not cur.accept_word("AS"):
            return None
        cur.accept_word("MATERIALIZED")
        if not (cur.tok.kind == "op" and cur.tok.text == "("):
            return None
        closer = cur.skip_group()
        if closer.end > before:
            break
        parts.append(source[begin : closer.end])
        if not cur.accept_op(","):
            break
    return f"WITH {', '.join(parts)}" if parts else None
