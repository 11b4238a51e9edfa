"""Tokens of SQL text, with positions, for the BigQuery ML statements pmle reads itself
(`CREATE MODEL`, `DROP MODEL`, `ML.*` table functions); everything else is left to DuckDB.

Strings are `'…'` or `"…"` (BigQuery's string quotes; in OPTIONS both mean a string),
identifiers are bare words or `` `…` `` (BigQuery's quoted names, which may hold dots:
`` `project.dataset.model` ``). `--` / `#` line comments and `/* … */` block comments are
skipped. A syntax error names the line and column and shows the line with a caret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pmle.errors import InvalidInput

__all__ = ["SqlSyntaxError", "Token", "syntax_error", "tokenize"]


class SqlSyntaxError(InvalidInput):
    """A statement pmle cannot read, with the position of the problem."""


@dataclass(frozen=True)
class Token:
    """One token: kind (`word`, `name` (backquoted), `string`, `number`, `op`, `end`), its
    text (unquoted for names and strings), and where it starts and ends in the source."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        """The text in upper case (keywords compare so)."""
        return self.text.upper()

    def is_word(self, *words: str) -> bool:
        """Whether this is a bare word equal (case-insensitively) to one of `words`."""
        return self.kind == "word" and self.upper in words


_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_NUMBER = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_OPS = ("<=", ">=", "<>", "!=", "||", "::", "=>")


def syntax_error(source: str, position: int, message: str) -> SqlSyntaxError:
    """A SqlSyntaxError at `position` of `source`: `line L, column C: message`, with the line
    and a caret under the position as the hint."""
    position = max(0, min(position, len(source)))
    line_start = source.rfind("\n", 0, position) + 1
    line_end = source.find("\n", position)
    line_end = len(source) if line_end < 0 else line_end
    line_no = source.count("\n", 0, position) + 1
    column = position - line_start + 1
    text = source[line_start:line_end]
    caret = " " * (column - 1) + "^"
    return SqlSyntaxError(
        f"syntax error at line {line_no}, column {column}: {message}", hint=f"\n{text}\n{caret}"
    )


def _quoted(source: str, start: int, quote: str) -> tuple[str, int]:
    """The text of a quoted token starting at `start` (on the opening quote) and the position
    after it. Backslash escapes and doubled quotes are both read."""
    out: list[str] = []
    i = start + 1
    triple = source.startswith(quote * 3, start) and quote != "`"
    if triple:
        i = start + 3
    while i < len(source):
        ch = source[i]
        if triple and source.startswith(quote * 3, i):
            return "".join(out), i + 3
        if not triple and ch == quote:
            if source.startswith(quote * 2, i) and quote != "`":
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(source) and quote != "`":
            nxt = source[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    raise syntax_error(source, start, f"unterminated {quote}-quoted text")


def skip_comment(source: str, i: int) -> int:
    """The position after a comment starting at `i`, or `i` when none starts there."""
    if source.startswith("--", i) or source.startswith("#", i):
        end = source.find("\n", i)
        return len(source) if end < 0 else end + 1
    if source.startswith("/*", i):
        end = source.find("*/", i + 2)
        if end < 0:
            raise syntax_error(source, i, "unterminated /* comment")
        return end + 2
    return i


def tokenize(source: str, start: int = 0, end: int | None = None) -> list[Token]:
    """The tokens of `source[start:end]` (positions stay those of `source`), ending with an
    `end` token."""
    stop = len(source) if end is None else end
    tokens: list[Token] = []
    i = start
    while i < stop:
        m = _SPACE.match(source, i)
        if m:
            i = m.end()
            continue
        after = skip_comment(source, i)
        if after != i:
            i = after
            continue
        ch = source[i]
        if ch in "'\"":
            text, j = _quoted(source, i, ch)
            tokens.append(Token("string", text, i, j))
            i = j
            continue
        if ch == "`":
            text, j = _quoted(source, i, "`")
            tokens.append(Token("name", text, i, j))
            i = j
            continue
        m = _NUMBER.match(source, i)
        if m and not (ch == "." and tokens and tokens[-1].kind in {"word", "name"}):
            tokens.append(Token("number", m.group(), i, m.end()))
            i = m.end()
            continue
        m = _WORD.match(source, i)
        if m:
            tokens.append(Token("word", m.group(), i, m.end()))
            i = m.end()
            continue
        op = next((o for o in _OPS if source.startswith(o, i)), ch)
        tokens.append(Token("op", op, i, i + len(op)))
        i += len(op)
    tokens.append(Token("end", "", stop, stop))
    return tokens
