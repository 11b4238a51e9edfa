"""Fixtures of the SQL model tests: a workspace holding the penguins table."""

from __future__ import annotations

import pytest

from pmle.workspace import Workspace


@pytest.fixture
def penguins_ws(ws: Workspace) -> Workspace:
    """`ws` with the palmerpenguins table imported as the dataset `penguins`."""
    palmerpenguins = pytest.importorskip("palmerpenguins")
    ws.datasets.import_("penguins", palmerpenguins.load_penguins())
    return ws
