"""Shared fixtures: a fresh workspace per test, and the churn data shipped with pmle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pmle
from pmle.workspace import Workspace


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own PMLE_* settings must not leak into tests.
    for key in ("PMLE_WORKSPACE", "PMLE_METADATA_URL", "PMLE_DEBUG", "PMLE_BUSY_TIMEOUT_S"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh, migrated workspace in a temp folder."""
    workspace = pmle.init(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def churn_csv() -> Path:
    """The real telco churn CSV (7,043 rows) shipped in pmle.resources."""
    from pmle.demo import sample_data_path

    return sample_data_path()
