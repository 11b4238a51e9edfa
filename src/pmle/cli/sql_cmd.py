"""`pmle sql`: run SQL with BigQuery ML statements over the warehouse — a script given on the
command line, a `.sql` file (`-f`), or an interactive prompt with history (no argument)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmle.cli._common import console, fail, handle_errors, open_ws, print_json

if TYPE_CHECKING:
    import pyarrow as pa
    from rich.console import Console

    from pmle.sqlml.engine import SqlResult, SqlSession

FORMATS = ("table", "csv", "json")
PROMPT, MORE = "pmle> ", "   -> "
QUIT = {"\\q", "exit", "quit", "exit;", "quit;", "\\q;"}
HISTORY_FILE = "sql_history"
HISTORY_LENGTH = 1000


def sql(
    query: Annotated[
        str | None,
        typer.Argument(
            help='SQL statements separated by ";" (DuckDB SQL, CREATE MODEL, ML.* functions); '
            'datasets are views (churn, "churn@2"). None: an interactive prompt'
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="run the statements of a .sql file")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    limit: Annotated[int, typer.Option("--limit", "-n", help="rows shown in a table")] = 50,
) -> None:
    """Run SQL over the warehouse (BigQuery ML statements included) and print the results."""
    _sql(query, file, fmt, limit)


@handle_errors
def _sql(query: str | None, file: Path | None, fmt: str, limit: int) -> None:
    from pmle.errors import InvalidInput

    if fmt not in FORMATS:
        raise InvalidInput(f"unknown output format {fmt!r}", hint="use table, csv or json")
    if query is not None and file is not None:
        raise InvalidInput("give either a query or --file, not both")
    ws = open_ws()
    printer = Printer(fmt, limit)
    if file is not None:
        try:
            script = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}") from None
        run_script(ws.sql_session, script, printer, source=str(file))
    elif query is not None:
        run_script(ws.sql_session, query, printer)
    else:
        interactive(ws.sql_session, printer, ws.state_dir / HISTORY_FILE)


def run_script(session: SqlSession, script: str, printer: Printer, source: str = "") -> None:
    """Run each statement in order, printing its result as it ends; an error names the
    statement (and its line) when the script has several."""
    from pmle.errors import InvalidInput, PmleError
    from pmle.sqlml.parse import split_statements

    statements = split_statements(script)
    if not statements:
        raise InvalidInput("no SQL statement given")
    for i, statement in enumerate(statements):
        try:
            result = session.run_statement(statement.text)
        except PmleError as exc:
            if len(statements) > 1:
                where = _line_of(script, statement.start, statement.text)
                place = f"{source}:{where}" if source else f"line {where}"
                exc.message = f"statement {i + 1} ({place}): {exc.message}"
            raise
        printer.result(result)


def _line_of(script: str, start: int, text: str) -> int:
    """The line where the statement's text begins (after leading blanks and comments)."""
    offset = script.find(text.strip()[:20], start)
    return script.count("\n", 0, offset if offset >= 0 else start) + 1


def interactive(session: SqlSession, printer: Printer, history: Path) -> None:
    """A prompt: statements end at `;` (several lines allowed); `\\q`, `exit` or Ctrl-D quits;
    an error is printed and the prompt goes on. History in `history` (readline), when the
    input is a terminal."""
    tty = sys.stdin.isatty()
    readline = _readline(history) if tty else None
    out = console()
    if tty:
        out.print("[dim]pmle sql — end statements with ;   \\q or Ctrl-D quits[/]")
    buffer: list[str] = []
    try:
        while True:
            try:
                line = input((MORE if buffer else PROMPT) if tty else "")
            except EOFError:
                break
            except KeyboardInterrupt:
                buffer = []
                out.print()
                continue
            if not buffer and line.strip().lower() in QUIT:
                break
            if not buffer and not line.strip():
                continue
            buffer.append(line)
            text = "\n".join(buffer)
            if _complete(text):
                buffer = []
                _run_one(session, text, printer)
        if buffer and "\n".join(buffer).strip():
            _run_one(session, "\n".join(buffer), printer)
    finally:
        if readline is not None:
            try:
                readline.write_history_file(str(history))
            except OSError:
                pass


def _run_one(session: SqlSession, text: str, printer: Printer) -> None:
    """Run what was typed; print an error in one line and carry on."""
    from pmle.errors import PmleError

    try:
        run_script(session, text, printer)
    except PmleError as exc:
        fail(exc.message, exc.hint)
    except Exception as exc:  # the prompt survives whatever one statement does
        fail(f"unexpected {exc.__class__.__name__}: {exc}")


def _complete(text: str) -> bool:
    """Whether the typed text ends a statement: its last token is `;` (not in a string or a
    comment)."""
    from pmle.sqlml.lexer import tokenize

    try:
        tokens = tokenize(text)
    except Exception:  # an unterminated string or comment: keep reading
        return False
    meaningful = [t for t in tokens if t.kind != "end"]
    return bool(meaningful) and meaningful[-1].kind == "op" and meaningful[-1].text == ";"


def _readline(history: Path) -> Any:
    try:
        import readline
    except ImportError:  # not on every platform
        return None
    try:
        history.parent.mkdir(parents=True, exist_ok=True)
        if history.exists():
            readline.read_history_file(str(history))
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)
    return readline


class Printer:
    """Prints statement results: rows as a table (or CSV / JSON on stdout), the other results
    as one line (on stderr when the output is CSV or JSON, so stdout stays data)."""

    def __init__(self, fmt: str = "table", limit: int = 50) -> None:
        self.fmt = fmt
        self.limit = limit

    def result(self, result: SqlResult) -> None:
        changed = _changed_rows(result)
        table = result.table
        if changed is None and result.kind == "rows" and table is not None and table.num_columns:
            self.rows(table, result.seconds)
            return
        out = console(stderr=self.fmt != "table")
        mark = "[yellow]–[/]" if result.kind == "skipped" else "[green]✓[/]"
        message = changed or result.message or "done"
        out.print(f"{mark} {message} [dim]({_seconds(result.seconds)})[/]")

    def rows(self, table: pa.Table, seconds: float) -> None:
        if self.fmt == "csv":
            import io

            import pyarrow.csv as pacsv

            buf = io.BytesIO()
            pacsv.write_csv(_csv_ready(table), buf)
            sys.stdout.write(buf.getvalue().decode())
            return
        if self.fmt == "json":
            print_json(table.to_pylist())
            return
        out = console()
        out.print(rows_table(table, self.limit))
        if table.num_rows > self.limit:
            more = f"{table.num_rows - self.limit:,} more rows (--limit, or --format csv)"
            out.print(f"[dim]{more}, {_seconds(seconds)}[/]")
        else:
            out.print(f"[dim]{table.num_rows:,} rows, {_seconds(seconds)}[/]")


_CHANGES = {"CREATE": "created", "INSERT": "inserted", "UPDATE": "updated", "DELETE": "deleted"}


def _changed_rows(result: SqlResult) -> str | None:
    """`created 3 rows` for DDL / DML, whose result DuckDB gives as a one-cell `Count`."""
    table = result.table
    if result.kind != "rows" or table is None or table.column_names != ["Count"]:
        return None
    words = result.statement.split(None, 1)
    verb = _CHANGES.get(words[0].upper()) if words else None
    if verb is None or table.num_rows != 1:
        return None
    count = table.column(0)[0].as_py()
    return f"{verb} {count:,} row{'s' if count != 1 else ''}"


def rows_table(table: pa.Table, limit: int) -> Any:
    """The first `limit` rows as a rich table."""
    from rich.table import Table

    from pmle.cli._render import fmt_num

    out = Table()
    for name in table.column_names:
        out.add_column(name)
    for row in table.slice(0, limit).to_pylist():
        out.add_row(*(_cell(v, fmt_num) for v in row.values()))
    return out


def _cell(value: Any, fmt_num: Any) -> str:
    from rich.markup import escape

    if isinstance(value, list | dict):
        import json

        text = json.dumps(value, default=str)
        return escape(text if len(text) <= 60 else text[:57] + "...")
    return escape(fmt_num(value))


def _csv_ready(table: pa.Table) -> pa.Table:
    """Nested columns (lists, structs: probabilities, weights) as JSON text: CSV has none."""
    import json

    import pyarrow as pa

    columns = []
    for column in table.columns:
        if pa.types.is_nested(column.type):
            column = pa.array(
                [None if v is None else json.dumps(v, default=str) for v in column.to_pylist()],
                pa.string(),
            )
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _seconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def print_results(out: Console, results: list[SqlResult], limit: int = 20) -> None:
    """Print results on `out` as tables / lines (the demo uses it)."""
    for result in results:
        if result.kind == "rows" and result.table is not None and result.table.num_columns:
            out.print(rows_table(result.table, limit))
        else:
            out.print(f"[green]✓[/] {result.message} [dim]({_seconds(result.seconds)})[/]")


def register(app: typer.Typer) -> None:
    """Add `sql` to the `pmle` application."""
    app.command("sql")(sql)
