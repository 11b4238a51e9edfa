"""`pmle exam …` from the command line."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from pmle.cli.app import app

runner = CliRunner()


def test_blueprints_and_bank() -> None:
    shown = runner.invoke(app, ["exam", "blueprints", "pmle-v3.1", "--length", "60"],
                          env={"COLUMNS": "200"})  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "pmle-v3.1" in shown.output and "22%" in shown.output and "│ 13 " in shown.output
    bank = runner.invoke(app, ["exam", "bank", "--stats"], env={"COLUMNS": "200"})
    assert bank.exit_code == 0 and "item(s) in the bank" in bank.output


def _item_builder():
    """tests/exam/test_items.py's `item` (loaded by path: tests are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "pmle_exam_items_for_cli", Path(__file__).parents[1] / "exam" / "test_items.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.item


def test_validate_files(tmp_path: Path) -> None:
    item = _item_builder()
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(yaml.safe_dump([item()]))
    bad.write_text(yaml.safe_dump([item(key=["Z"])]))
    ok = runner.invoke(app, ["exam", "validate", str(good)])
    assert ok.exit_code == 0 and "1 item(s) valid" in ok.output
    failed = runner.invoke(app, ["exam", "validate", str(good), str(bad)])
    assert failed.exit_code == 2 and "the key 'Z' is not an option" in failed.output
    missing = runner.invoke(app, ["exam", "validate", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "no item file or folder" in missing.output
