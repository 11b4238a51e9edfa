"""Datasets: import, versions, schema, statistics and splits (``ws.datasets``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pmle._util import lazy_exports

__all__ = [
    "Column",
    "DatasetSummary",
    "DatasetVersion",
    "Datasets",
    "assign_splits",
    "compute_stats",
    "content_hash",
    "infer_schema",
]

if TYPE_CHECKING:
    from pmle.data.datasets import Datasets, DatasetSummary, DatasetVersion, content_hash
    from pmle.data.schema import Column, infer_schema
    from pmle.data.split import assign as assign_splits
    from pmle.data.stats import compute_stats

_WHERE = {
    "Column": ("pmle.data.schema", "Column"),
    "infer_schema": ("pmle.data.schema", "infer_schema"),
    "DatasetSummary": ("pmle.data.datasets", "DatasetSummary"),
    "DatasetVersion": ("pmle.data.datasets", "DatasetVersion"),
    "Datasets": ("pmle.data.datasets", "Datasets"),
    "content_hash": ("pmle.data.datasets", "content_hash"),
    "assign_splits": ("pmle.data.split", "assign"),
    "compute_stats": ("pmle.data.stats", "compute_stats"),
}


__getattr__ = lazy_exports(__name__, _WHERE)
