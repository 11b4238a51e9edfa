"""Server metrics in the Prometheus text format, plus the deltas servers add to the metadata.

Plain counters and fixed-bucket histograms in dictionaries: updating one is a few dictionary
operations on the request path, with no client library in the way.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from pmle.serving.endpoints import LATENCY_BUCKETS_MS

_LATENCY_S = tuple(b / 1000 for b in LATENCY_BUCKETS_MS)
_BATCH_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Histogram:
    """Counts per bucket (cumulative only when exposed), sum and count."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value


_NAMES = ("endpoint", "deployed_model", "protocol", "code")


def _labels(values: tuple[str, ...], extra: tuple[tuple[str, str], ...] = ()) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    pairs = (*zip(_NAMES, values, strict=False), *extra)
    return ",".join(f'{k}="{esc(v)}"' for k, v in pairs)


class Metrics:
    """Request, latency, batch and error figures of one server process."""

    def __init__(self) -> None:
        # Keys are plain tuples (endpoint, deployed model[, protocol, code]): labels are only
        # spelled out when /metrics is read.
        self.requests: dict[tuple[str, ...], int] = defaultdict(int)
        self.latency: dict[tuple[str, ...], Histogram] = {}
        self.batch_rows: dict[tuple[str, ...], Histogram] = {}
        self.rows: dict[tuple[str, ...], int] = defaultdict(int)
        # Since the last flush to the metadata store: deployed model id → counters.
        self._pending: dict[str, dict[str, Any]] = {}

    def request(
        self, *, endpoint: str, deployed: str, protocol: str, code: int, seconds: float, rows: int
    ) -> None:
        """Count one prediction request."""
        key = (endpoint, deployed)
        self.requests[(endpoint, deployed, protocol, str(code))] += 1
        hist = self.latency.get(key)
        if hist is None:
            hist = self.latency[key] = Histogram(_LATENCY_S)
        hist.observe(seconds)
        self.rows[key] += rows
        if deployed:
            p = self._pending.get(deployed)
            if p is None:
                p = self._pending[deployed] = {
                    "requests": 0,
                    "errors": 0,
                    "rows": 0,
                    "latency_ms_sum": 0.0,
                    "latency_buckets": [0] * (len(LATENCY_BUCKETS_MS) + 1),
                }
            ms = seconds * 1000.0
            p["requests"] += 1
            p["errors"] += code >= 400
            p["rows"] += rows
            p["latency_ms_sum"] += ms
            p["latency_buckets"][bisect.bisect_left(LATENCY_BUCKETS_MS, ms)] += 1

    def batch(self, *, endpoint: str, deployed: str, requests: int, rows: int) -> None:
        """Record the size of one predict call."""
        key = (endpoint, deployed)
        hist = self.batch_rows.get(key)
        if hist is None:
            hist = self.batch_rows[key] = Histogram(_BATCH_ROWS)
        hist.observe(rows)

    def take_pending(self) -> dict[str, dict[str, Any]]:
        """The counters since the last call (for the metadata store), reset."""
        out, self._pending = self._pending, {}
        return out

    def exposition(self) -> str:
        """The Prometheus text format."""
        lines = [
            "# HELP pmle_requests_total Prediction requests by endpoint, model, protocol, code.",
            "# TYPE pmle_requests_total counter",
        ]
        for key, n in sorted(self.requests.items()):
            lines.append(f"pmle_requests_total{{{_labels(key)}}} {n}")
        lines += [
            "# HELP pmle_predicted_rows_total Rows (instances) predicted.",
            "# TYPE pmle_predicted_rows_total counter",
        ]
        for key, n in sorted(self.rows.items()):
            lines.append(f"pmle_predicted_rows_total{{{_labels(key)}}} {n}")
        lines += _histogram(
            "pmle_request_duration_seconds", "Prediction request latency.", self.latency
        )
        lines += _histogram(
            "pmle_batch_rows", "Rows per predict call (adaptive batching).", self.batch_rows
        )
        return "\n".join(lines) + "\n"


def _histogram(name: str, help_text: str, series: dict[tuple[str, ...], Histogram]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for key, h in sorted(series.items()):
        acc = 0
        for bound, count in zip((*h.bounds, float("inf")), h.counts, strict=True):
            acc += count
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            lines.append(f"{name}_bucket{{{_labels(key, (('le', le),))}}} {acc}")
        lines.append(f"{name}_sum{{{_labels(key)}}} {h.sum}")
        lines.append(f"{name}_count{{{_labels(key)}}} {acc}")
    return lines
