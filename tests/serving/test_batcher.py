"""Adaptive batching: concurrent requests share predict calls; one bad request fails alone."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from pmle.errors import InvalidInput
from pmle.serving.batcher import Batcher
from pmle.serving.runtime import Columns, Prediction


def _cols(values: list[float]) -> Columns:
    return Columns({"v": np.asarray(values, dtype=float)}, len(values))


class SlowDouble:
    """Doubles `v`, taking 20 ms per call, counting calls; NaN input raises."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, cols: Columns) -> Prediction:
        with self.lock:
            self.calls.append(cols.n)
        time.sleep(0.02)
        v = cols.data["v"]
        if np.isnan(v).any():
            raise InvalidInput("NaN is not allowed here")
        return Prediction(v * 2)


async def _many(batcher: Batcher, n: int, bad: int | None = None) -> list[object]:
    async def one(i: int) -> object:
        try:
            return (await batcher.predict(_cols([float("nan") if i == bad else i]))).values[0]
        except InvalidInput as exc:
            return exc

    try:
        return list(await asyncio.gather(*(one(i) for i in range(n))))
    finally:
        await batcher.close()


def test_concurrent_requests_are_coalesced() -> None:
    model = SlowDouble()
    out = asyncio.run(_many(Batcher(model, max_batch_size=64), 50))
    assert out == [2.0 * i for i in range(50)]
    assert sum(model.calls) == 50 and len(model.calls) <= 3


def test_batching_off_calls_once_per_request() -> None:
    model = SlowDouble()
    asyncio.run(_many(Batcher(model, max_batch_size=1), 10))
    assert model.calls == [1] * 10


def test_max_batch_size_caps_rows_per_call() -> None:
    model = SlowDouble()
    asyncio.run(_many(Batcher(model, max_batch_size=8), 40))
    assert max(model.calls) <= 8 and sum(model.calls) == 40


def test_under_load_a_batch_waits_to_fill() -> None:
    model = SlowDouble()

    async def burst_then_staggered() -> None:
        batcher = Batcher(model, max_batch_size=64, max_wait_ms=100)
        await asyncio.gather(*(batcher.predict(_cols([i])) for i in range(5)))  # concurrent

        async def one(i: int) -> None:
            await asyncio.sleep(0.005 * i)
            await batcher.predict(_cols([i]))

        await asyncio.gather(*(one(i) for i in range(10)))
        await batcher.close()

    asyncio.run(burst_then_staggered())
    assert model.calls == [5, 10]


def test_a_lone_request_never_waits() -> None:
    model = SlowDouble()

    async def lone() -> float:
        batcher = Batcher(model, max_batch_size=64, max_wait_ms=1000)
        t0 = time.perf_counter()
        for i in range(3):
            await batcher.predict(_cols([i]))
        await batcher.close()
        return time.perf_counter() - t0

    assert asyncio.run(lone()) < 2.0  # three 20 ms calls, not three 1 s windows
    assert model.calls == [1, 1, 1]


@pytest.mark.parametrize("size", [1, 64])
def test_one_bad_request_fails_alone(size: int) -> None:
    model = SlowDouble()
    out = asyncio.run(_many(Batcher(model, max_batch_size=size), 12, bad=5))
    assert isinstance(out[5], InvalidInput)
    assert [v for i, v in enumerate(out) if i != 5] == [2.0 * i for i in range(12) if i != 5]


def test_a_request_that_fills_a_batch_is_called_at_once() -> None:
    model = SlowDouble()
    seen: list[tuple[int, int]] = []

    async def run() -> list[object]:
        batcher = Batcher(model, max_batch_size=8, max_wait_ms=1000)
        batcher.on_batch = lambda requests, rows: seen.append((requests, rows))
        big = await batcher.predict(_cols([float(i) for i in range(8)]))
        assert batcher._queue is None  # it never went through the queue
        try:
            await batcher.predict(_cols([1.0] * 9 + [float("nan")]))
        except InvalidInput as exc:
            bad: object = exc
        # alongside small requests that coalesce as before
        small = await asyncio.gather(*(batcher.predict(_cols([i])) for i in range(3)))
        await batcher.close()
        return [big.values.tolist(), bad, [s.values[0] for s in small]]

    big, bad, small = asyncio.run(run())
    assert big == [2.0 * i for i in range(8)]
    assert isinstance(bad, InvalidInput)
    assert small == [0.0, 2.0, 4.0]
    assert model.calls == [8, 10, 3]
    assert seen == [(1, 8), (1, 10), (3, 3)]  # every predict call is counted
