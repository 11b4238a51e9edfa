"""Kubernetes resource quantities (set_cpu_limit / set_memory_limit) as numbers."""

from __future__ import annotations

import pytest

from pmle.errors import InvalidInput
from pmle.pipelines.quantities import cpu_cores, is_placeholder, memory_bytes


@pytest.mark.parametrize(
    ("text", "cores"), [("2", 2.0), ("500m", 0.5), ("0.25", 0.25), ("1500m", 1.5)]
)
def test_cpu_cores(text: str, cores: float) -> None:
    assert cpu_cores(text) == cores


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1G", 10**9),
        ("1Gi", 2**30),
        ("256M", 256 * 10**6),
        ("512Mi", 512 * 2**20),
        ("1.5Gi", 3 * 2**29),
        ("100", 100),
        ("2k", 2000),
        ("1Ti", 2**40),
    ],
)
def test_memory_bytes(text: str, size: int) -> None:
    assert memory_bytes(text) == size


@pytest.mark.parametrize("text", ["", "two", "2 cores", "-1", "1g", "5mb"])
def test_invalid_quantities(text: str) -> None:
    with pytest.raises(InvalidInput):
        cpu_cores(text) if not text.endswith(("g", "mb")) else memory_bytes(text)


def test_placeholders_are_resolved_at_run_time() -> None:
    assert is_placeholder("{{$.inputs.parameters['pipelinechannel--cpu']}}")
    assert not is_placeholder("2")
