from __future__ import annotations

from pathlib import Path

import pytest

import pmle
from pmle.errors import AlreadyExists, InvalidInput, WorkspaceNotFound
from pmle.workspace import DIRNAME, find_workspace, open_workspace


def test_init_creates_stores_and_migrates(tmp_path: Path) -> None:
    ws = pmle.init(tmp_path / "proj")
    assert (tmp_path / "proj" / DIRNAME / "metadata.db").is_file()
    assert (tmp_path / "proj" / DIRNAME / "config.toml").is_file()
    info = ws.info()
    assert info["schema_revision"] == "0013"
    assert info["datasets"] == 0


def test_init_twice_is_refused(tmp_path: Path) -> None:
    pmle.init(tmp_path)
    with pytest.raises(AlreadyExists):
        pmle.init(tmp_path)
    assert pmle.init(tmp_path, exist_ok=True).root == tmp_path.resolve()


def test_init_on_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InvalidInput):
        pmle.init(f)


def test_found_from_a_nested_folder_like_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pmle.init(tmp_path)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_workspace() == (tmp_path / DIRNAME).resolve()
    assert open_workspace().root == tmp_path.resolve()


def test_nearest_workspace_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pmle.init(tmp_path)
    inner = tmp_path / "inner"
    pmle.init(inner)
    monkeypatch.chdir(inner)
    assert open_workspace().root == inner.resolve()


def test_env_var_and_explicit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pmle.init(tmp_path / "a")
    pmle.init(tmp_path / "b")
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.setenv("PMLE_WORKSPACE", str(tmp_path / "b"))
    assert open_workspace().root == (tmp_path / "b").resolve()
    # an explicit path beats the environment; the .pmle folder itself is accepted too
    assert open_workspace(tmp_path / "a" / DIRNAME).root == (tmp_path / "a").resolve()


def test_not_found_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceNotFound) as err:
        open_workspace()
    assert "pmle init" in (err.value.hint or "")
    monkeypatch.setenv("PMLE_WORKSPACE", str(tmp_path / "missing"))
    with pytest.raises(WorkspaceNotFound, match="PMLE_WORKSPACE"):
        open_workspace()


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = pmle.init(tmp_path)
    (ws.state_dir / "config.toml").write_text("[metadata]\nbusy_timeout_s = 5\n")
    assert open_workspace(tmp_path).settings.busy_timeout_s == 5.0
    monkeypatch.setenv("PMLE_BUSY_TIMEOUT_S", "7.5")
    assert open_workspace(tmp_path).settings.busy_timeout_s == 7.5
    assert open_workspace(tmp_path, busy_timeout_s=1).settings.busy_timeout_s == 1


def test_bad_settings_are_invalid_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = pmle.init(tmp_path)
    monkeypatch.setenv("PMLE_BUSY_TIMEOUT_S", "soon")
    with pytest.raises(InvalidInput, match="PMLE_BUSY_TIMEOUT_S"):
        open_workspace(tmp_path)
    monkeypatch.delenv("PMLE_BUSY_TIMEOUT_S")
    (ws.state_dir / "config.toml").write_text("[metadata\n")
    with pytest.raises(InvalidInput, match=r"config\.toml"):
        open_workspace(tmp_path)


def test_metadata_url_from_settings(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.db"
    ws = pmle.init(tmp_path / "ws", metadata_url=f"sqlite:///{other}")
    assert other.is_file()
    assert ws.info()["metadata_url"].endswith("elsewhere.db")


def test_import_pmle_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pmle, pmle.cli.app; "
        "heavy = [m for m in ('pandas', 'pyarrow', 'duckdb', 'sqlalchemy', 'lightgbm', "
        "'sklearn', 'numpy', 'alembic') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
