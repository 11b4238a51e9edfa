"""`pmle exam …` from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from pmle.cli.app import app
from pmle.exam.bank import load_bank
from pmle.workspace import Workspace

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


def _run(ws: Workspace, *args: str) -> Any:
    return runner.invoke(app, ["-w", str(ws.root), *args], env={"COLUMNS": "200"})


def test_a_scripted_exam_from_start_to_review(ws: Workspace, tmp_path: Path) -> None:
    """--no-ui --json prints the form; submit --answers scores it; result, review, history,
    attempts, due and stats read it back. The shipped bank serves the form."""
    started = _run(ws, "exam", "start", "--length", "50", "--seed", "7", "--json")
    assert started.exit_code == 0, started.output
    form = json.loads(started.output)
    assert len(form["questions"]) == 50 and 7100 < form["remaining_s"] <= 7200
    assert "key" not in form["questions"][0]  # no answers shown before the end
    bank = {i.id: i for i in load_bank()[0]}
    answers: dict[str, list[str]] = {}
    for q in form["questions"][:30]:  # the first 30 right, the rest unanswered
        answers[q["item"]] = list(bank[q["item"]].key)
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    submitted = _run(ws, "exam", "submit", str(form["id"]), "--answers", str(path), "--json")
    assert submitted.exit_code == 0, submitted.output
    result = json.loads(submitted.output)
    assert result["correct"] == 30 and result["total"] == 50 and result["answered"] == 30
    assert "not an official pass mark" in result["readiness"]
    assert sum(v[1] for v in result["by_section"].values()) == 50
    shown = _run(ws, "exam", "result", str(form["id"]), "--items")
    assert shown.exit_code == 0 and "60% — 30 of 50 right" in shown.output
    assert "By objective" in shown.output and "By question" in shown.output
    wrong = _run(ws, "exam", "review", str(form["id"]), "--wrong", "--json")
    missed = json.loads(wrong.output)
    assert len(missed) == 20 and all(m["correct"] is False for m in missed)
    assert all(m["references"] and m["options"][0]["feedback"] for m in missed)
    printed = _run(ws, "exam", "review", str(form["id"]), "--wrong")
    assert printed.exit_code == 0 and "Question" in printed.output and "✓" in printed.output
    history = _run(ws, "exam", "history", "--json")
    assert [h["percent"] for h in json.loads(history.output)] == [60.0]
    assert "overall" in _run(ws, "exam", "history").output
    listed = _run(ws, "exam", "attempts")
    assert "submitted" in listed.output and "30/50" in listed.output
    due = json.loads(_run(ws, "exam", "due", "--all", "--json").output)
    assert len(due) == 20  # every missed item is scheduled
    stats = json.loads(_run(ws, "exam", "stats", "--min-responses", "1", "--json").output)
    assert len(stats) == 50
    again = _run(ws, "exam", "submit", str(form["id"]))
    assert again.exit_code == 2 and "already submitted" in again.output


def test_one_shot_answers_and_practice(ws: Workspace, tmp_path: Path) -> None:
    bank = {i.id: i for i in load_bank()[0] if i.status == "reviewed"}
    every_key = tmp_path / "key.json"
    every_key.write_text(json.dumps({k: list(i.key) for k, i in bank.items()}))
    perfect = _run(ws, "exam", "start", "--length", "60", "--answers", str(every_key))
    assert perfect.exit_code == 0, perfect.output
    result = json.loads(perfect.output)
    assert result["correct"] == result["total"] == 60
    assert [result["by_section"][str(n)][1] for n in range(1, 7)] == [7, 10, 11, 11, 13, 8]
    practised = _run(ws, "exam", "practice", "-o", "3.2", "-n", "3", "--answers", str(every_key))
    assert practised.exit_code == 0, practised.output
    out = json.loads(practised.output)
    assert out["correct"] == 3 and len(out["feedback"]) == 3
    assert all(f["objectives"][0] == "3.2" and f["explanation"] for f in out["feedback"])
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    refused = _run(ws, "exam", "start", "--answers", str(bad))
    assert refused.exit_code == 2 and "must map item ids" in refused.output
    nope = _run(ws, "exam", "practice", "-o", "9.9")
    assert nope.exit_code == 2 and "no objective" in nope.output


def test_reports(ws: Workspace) -> None:
    item = next(i.id for i in load_bank()[0] if i.status == "reviewed")
    made = _run(ws, "exam", "report", item, "the key looks wrong", "--kind", "wrong-key")
    assert made.exit_code == 0 and "recorded" in made.output
    listed = _run(ws, "exam", "reports")
    assert item in listed.output and "wrong-key" in listed.output
    assert _run(ws, "exam", "reports", "--close", "1", "--resolution", "fixed").exit_code == 0
    assert item not in _run(ws, "exam", "reports").output
    assert item in _run(ws, "exam", "reports", "--status", "all").output
    unknown = _run(ws, "exam", "report", "v2-9.9-9999", "x")
    assert unknown.exit_code == 2 and "no item" in unknown.output
