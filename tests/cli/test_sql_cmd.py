"""`pmle sql`: scripts on the command line, .sql files (-f), the interactive prompt (driven
through stdin), and errors as one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pmle.cli.app import app
from pmle.cli.sql_cmd import _complete
from pmle.workspace import Workspace

runner = CliRunner()

SCRIPT = """-- train, then use the model
CREATE MODEL small
  OPTIONS (model_type = 'linear_reg', input_label_cols = ['y']) AS
  SELECT x, x * 2 + 1 AS y FROM range(20) t(x);

SELECT round(predicted_y, 6) AS p FROM ML.PREDICT(MODEL small, (SELECT 3 AS x));
CREATE TABLE notes AS SELECT 'a;b' AS text;  -- a ; inside a string
DROP MODEL IF EXISTS nothing_here;
SELECT count(*) AS n FROM notes
"""


def _sql(ws: Workspace, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, ["-w", str(ws.root), "sql", *args], input=stdin)


def test_file_runs_every_statement_in_order(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "job.sql"
    path.write_text(SCRIPT, encoding="utf-8")
    res = _sql(ws, "-f", str(path))
    assert res.exit_code == 0, res.output
    out = res.output
    assert "created model small@1" in out
    assert "│ 7 │" in out  # the prediction for x = 3
    assert "created 1 row" in out and "no such model" in out
    assert out.index("created model") < out.index("│ 7 │") < out.index("no such model")
    assert ws.warehouse.tables() == ["notes"]
    assert ws.models.get("small").version == 1


def test_script_argument_and_json(ws: Workspace) -> None:
    res = _sql(ws, "SELECT 1 AS a; SELECT 2 AS b", "--format", "json")
    assert res.exit_code == 0, res.output
    # one JSON document per statement with rows
    first, second = res.stdout.strip().split("\n]\n")
    assert json.loads(first + "]") == [{"a": 1}] and json.loads(second) == [{"b": 2}]


def test_error_names_the_statement_and_exits_2(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "bad.sql"
    path.write_text("SELECT 1;\n\nSELECT * FROM missing_table;\nSELECT 3", encoding="utf-8")
    res = _sql(ws, "-f", str(path))
    assert res.exit_code == 2
    assert f"statement 2 ({path}:3): SQL error" in res.output
    assert "Traceback" not in res.output
    for args, message in [
        (["-f", str(tmp_path / "nope.sql")], "cannot read"),
        (["SELECT 1", "-f", str(path)], "either a query or --file"),
        (["SELECT 1", "--format", "xml"], "unknown output format"),
        (["CREATE MODEL m OPTIONS(model_type='linear_regg') AS SELECT 1"], "linear_regg"),
    ]:
        res = _sql(ws, *args)
        assert res.exit_code == 2, (args, res.output)
        assert res.output.startswith("error:") and message in res.output, res.output


def test_interactive_prompt_through_stdin(ws: Workspace) -> None:
    typed = "\n".join(
        [
            "SELECT 41 + 1",
            "  AS answer;",
            "SELECT * FROM no_such_table;",  # an error: printed, the prompt goes on
            "",
            "SELECT 'x;y' AS s;",
            "\\q",
            "SELECT 'after quit' AS never;",
        ]
    )
    res = _sql(ws, stdin=typed + "\n")
    assert res.exit_code == 0, res.output
    assert "42" in res.output and "x;y" in res.output
    assert "error: SQL error" in res.output
    assert "after quit" not in res.output


def test_interactive_end_of_input_runs_the_rest(ws: Workspace) -> None:
    res = _sql(ws, stdin="CREATE TABLE t AS SELECT 1 AS one;\nSELECT one * 7 AS seven FROM t")
    assert res.exit_code == 0, res.output
    assert "created 1 row" in res.output and "│ 7 " in res.output


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("SELECT 1;", True),
        ("SELECT 1", False),
        ("SELECT ';", False),  # an open string
        ("SELECT 1; -- done", True),
        ("SELECT 1 /* ; */", False),
    ],
)
def test_statement_ends_at_semicolon(text: str, complete: bool) -> None:
    assert _complete(text) is complete
