from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.workspace import Workspace

runner = CliRunner()


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["-w", str(ws.root), "data", *args])
    return res.exit_code, res.output


def test_import_list_show_stats_split(ws: Workspace, churn_csv: Path) -> None:
    code, out = run(ws, "import", "churn", str(churn_csv))
    assert code == 0 and "imported churn@1" in out and "7,043 rows" in out
    code, out = run(ws, "import", "churn", str(churn_csv))
    assert code == 0 and "unchanged" in out and "churn@1" in out
    code, out = run(ws, "list", "-f", "json")
    assert [d["name"] for d in json.loads(out)] == ["churn"]
    code, out = run(ws, "show", "churn")
    assert code == 0 and "monthly_charges" in out and "categorical" in out
    code, out = run(ws, "show", "churn", "-f", "json")
    assert json.loads(out)["rows"] == 7043
    code, out = run(ws, "stats", "churn", "-c", "tenure", "-f", "json")
    stats = json.loads(out)
    assert list(stats) == ["tenure"] and stats["tenure"]["max"] == 72
    code, out = run(ws, "stats", "churn")
    assert code == 0 and "contract" in out
    code, out = run(ws, "split", "churn", "--fractions", "0.7,0.3", "--prefix", "c")
    assert code == 0 and "c_train@1" in out and "c_validation@1" in out
    assert "c_test" not in out


def test_import_from_sql(ws: Workspace, churn_csv: Path) -> None:
    run(ws, "import", "churn", str(churn_csv))
    code, out = run(ws, "import", "long", "--sql", "SELECT * FROM churn WHERE tenure > 60")
    assert code == 0, out
    assert (
        ws.datasets.get("long").num_rows
        == ws.warehouse.query_arrow(
            "SELECT count(*) AS n FROM churn WHERE tenure > 60"
        ).to_pylist()[0]["n"]
    )


def test_bad_input_is_one_line_with_exit_code_2(ws: Workspace, tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5\n")
    cases = {
        ("import", "x", str(tmp_path / "missing.csv")): "no such file",
        ("import", "x", str(ragged)): "malformed CSV",
        ("import", "x"): "give either a file or --sql",
        ("show", "unknown"): "no dataset named 'unknown'",
        ("show", "unknown@latest@2"): "invalid alias",
        ("stats", "unknown"): "no dataset named",
        ("split", "unknown"): "no dataset named",
        ("list", "--format", "xml"): "unknown output format",
    }
    for args, message in cases.items():
        code, out = run(ws, *args)
        assert code == 2, (args, out)
        assert out.startswith("error:"), (args, out)
        assert message in out, (args, out)
        assert "Traceback" not in out
