"""A lab's folder: starting (TASK.md, marker, planted data), refusing folders that are not
the lab's, resuming, resetting, setups that fail half-way, and finding the folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmle.errors import Conflict, InvalidInput, NotFound
from pmle.exam import labs
from pmle.exam.labs import experiments, find_lab_folder, lab_of
from pmle.exam.labs.base import Planted
from pmle.exam.labs.folder import read_marker

LAB = "experiments"  # the quickest setup: one CSV file


def test_start_writes_the_task_the_marker_and_the_data(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    with labs.start(LAB, folder) as ws:
        assert ws.root == folder.resolve()
    marker = json.loads((folder / ".pmle" / "lab.json").read_text())
    assert marker["lab"] == LAB and marker["ready"] is True and marker["started_at"]
    assert marker["facts"]["rows"] == experiments.ROWS
    assert set(marker["files"]) == {"TASK.md", experiments.FILE}
    assert (folder / "TASK.md").read_text().startswith("# Lab experiments:")
    assert (folder / experiments.FILE).is_file() and lab_of(folder) == LAB
    # starting again resumes: nothing is planted twice
    with labs.start(LAB, folder) as ws:
        ws.datasets.import_("rentals", folder / experiments.FILE)
    with labs.start(LAB, folder) as ws:
        assert [d.name for d in ws.datasets.list()] == ["rentals"]


def test_start_refuses_folders_that_are_not_the_labs(tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="already holds files") as err:
        labs.start(LAB, busy)
    assert err.value.hint is not None and "--dir" in err.value.hint
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]  # untouched
    import pmle

    pmle.init(tmp_path / "plain").close()
    with pytest.raises(Conflict, match="a pmle workspace that is not a lab's"):
        labs.start(LAB, tmp_path / "plain")
    labs.start(LAB, tmp_path / "other").close()
    with pytest.raises(Conflict, match="holds the workspace of lab 'experiments', not 'canary'"):
        labs.start("canary", tmp_path / "other")
    with pytest.raises(NotFound, match="no lab 'nope'"):
        labs.start("nope", tmp_path / "new")
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInput, match="is a file"):
        labs.start(LAB, tmp_path / "file")


def test_check_needs_a_started_lab_of_that_id(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="is not started") as err:
        labs.check(LAB, tmp_path / "nothing")
    assert err.value.hint is not None and f"pmle lab start {LAB}" in err.value.hint
    labs.start(LAB, tmp_path / "lab").close()
    with pytest.raises(InvalidInput, match="holds lab 'experiments', not 'canary'"):
        labs.check("canary", tmp_path / "lab")
    import pmle

    pmle.init(tmp_path / "plain").close()
    with pytest.raises(InvalidInput, match="no lab's"):
        labs.check(LAB, tmp_path / "plain")


def test_check_never_changes_the_workspace(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    labs.start(LAB, folder).close()
    before = {p: p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    assert not any(c.passed for c in labs.check(LAB, folder))
    labs.check(LAB, folder)
    after = {p: p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    assert after.keys() == before.keys()


def test_reset_wipes_the_lab_and_keeps_your_files(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    with labs.start(LAB, folder) as ws:
        ws.datasets.import_("rentals", folder / experiments.FILE)
    (folder / experiments.FILE).write_text("damaged")
    (folder / "train.py").write_text("print('mine')")
    first = read_marker(folder)
    with labs.reset(LAB, folder) as ws:
        assert ws.datasets.list() == []  # the state is gone
    assert (folder / "train.py").read_text() == "print('mine')"
    assert (folder / experiments.FILE).read_text().startswith("listing_id,")  # planted again
    assert read_marker(folder)["started_at"] >= first["started_at"]  # type: ignore[index]
    assert not any(c.passed for c in labs.check(LAB, folder))
    # never another lab's folder, nor one that is no lab's
    with pytest.raises(Conflict, match="nothing was deleted"):
        labs.reset("canary", folder)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("x")
    with pytest.raises(Conflict, match="nothing was deleted"):
        labs.reset(LAB, tmp_path / "mine")
    assert (tmp_path / "mine" / "keep.txt").exists()
    labs.reset(LAB, tmp_path / "empty").close()  # an empty or new folder: just starts
    assert lab_of(tmp_path / "empty") == LAB


def test_a_failed_setup_leaves_nothing_and_a_killed_one_is_planted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ws: object, folder: Path) -> Planted:
        (folder / "data").mkdir()
        raise RuntimeError("setup broke")

    monkeypatch.setattr(experiments, "setup", broken)
    with pytest.raises(RuntimeError, match="setup broke"):
        labs.start(LAB, tmp_path / "lab")
    assert list((tmp_path / "lab").iterdir()) == []
    monkeypatch.undo()
    # a setup killed half-way leaves a marker that is not ready
    labs.start(LAB, tmp_path / "lab").close()
    marker = tmp_path / "lab" / ".pmle" / "lab.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "ready": False}))
    with pytest.raises(Conflict, match="did not finish"):
        labs.check(LAB, tmp_path / "lab")
    labs.start(LAB, tmp_path / "lab").close()
    assert read_marker(tmp_path / "lab")["ready"] is True  # type: ignore[index]


def test_find_lab_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_lab_folder(LAB, None) == tmp_path / f"pmle-lab-{LAB}"
    assert find_lab_folder(LAB, tmp_path / "x") == (tmp_path / "x").resolve()
    labs.start(LAB, tmp_path / "here").close()
    (tmp_path / "here" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "here" / "sub")
    assert find_lab_folder(LAB, None) == (tmp_path / "here").resolve()
    # the workspace around is another lab's: the default folder name
    assert find_lab_folder("canary", None) == tmp_path / "here" / "sub" / "pmle-lab-canary"
    with pytest.raises(NotFound):
        find_lab_folder("nope", None)
