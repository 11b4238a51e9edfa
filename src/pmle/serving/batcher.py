"""Adaptive batching: concurrent requests to one deployed model become one predict call.

Requests queue while the model is busy; when it is free, everything queued (up to
`max_batch_size` rows) goes in one call, so a lone request waits for nothing and a burst is
served in few calls. Under concurrent load (the previous batch held several requests) a batch
is held open up to `max_wait_ms` to fill; after a lone request nothing waits, so a quiet
endpoint answers at once.
Small batches are predicted on the event loop itself: handing them to a thread costs more
(a context switch each way, on a core the server shares with nothing) than the trees take,
and requests arriving meanwhile simply wait in the socket buffers to form the next batch.
Batches over `INLINE_ROWS` rows go to one worker thread per deployed model (LightGBM releases
the GIL), so a large request does not stall the others. A request with `max_batch_size` rows
or more is a batch by itself: it skips the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pmle.serving.runtime import Columns, Prediction

#: Batches up to this many rows are predicted on the event loop, larger ones on a thread.
INLINE_ROWS = 512


@dataclass
class _Job:
    cols: Columns
    future: asyncio.Future[Prediction] = field(repr=False)


class Batcher:
    """Coalesces predict calls for one model."""

    def __init__(
        self,
        predict: Callable[[Columns], Prediction],
        *,
        max_batch_size: int = 64,
        max_wait_ms: float = 0.0,
    ) -> None:
        self._predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        #: Sizes (rows) of the batches run so far, for metrics.
        self.on_batch: Callable[[int, int], None] | None = None

    async def predict(self, cols: Columns) -> Prediction:
        """Queue a request's rows and wait for its share of a batch."""
        loop = asyncio.get_running_loop()
        if self.max_batch_size <= 1:
            return await self._call(loop, cols)  # batching off: one call per request
        if cols.n >= self.max_batch_size:
            # A request that fills a batch alone would be a batch of its own: call now,
            # without the queue, the future and the two loop turns they cost.
            if self.on_batch is not None:
                self.on_batch(1, cols.n)
            if cols.n <= INLINE_ROWS:
                return self._predict(cols)
            return await self._call(loop, cols)
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run())
        future: asyncio.Future[Prediction] = loop.create_future()
        self._queue.put_nowait(_Job(cols, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        busy = False  # did the last batch coalesce several requests?
        while True:
            batch = [await queue.get()]
            rows = batch[0].cols.n
            deadline = loop.time() + (self.max_wait_s if busy else 0.0)
            while rows < self.max_batch_size:
                if queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    job = queue.get_nowait()
                batch.append(job)
                rows += job.cols.n
            busy = len(batch) > 1
            await self._execute(loop, batch, rows)

    async def _execute(self, loop: asyncio.AbstractEventLoop, batch: list[_Job], rows: int) -> None:
        if self.on_batch is not None:
            self.on_batch(len(batch), rows)
        try:
            merged = Columns.concat([j.cols for j in batch])
            result = await self._call(loop, merged)
        except Exception as exc:  # every waiting request gets the error
            if len(batch) > 1:
                # One bad request must not fail its neighbours: retry them one by one.
                for job in batch:
                    await self._execute_one(loop, job)
                return
            _settle(batch[0].future, exc=exc)
            return
        start = 0
        for job in batch:
            _settle(job.future, result=result.slice(start, start + job.cols.n))
            start += job.cols.n

    async def _execute_one(self, loop: asyncio.AbstractEventLoop, job: _Job) -> None:
        try:
            result = await self._call(loop, job.cols)
        except Exception as exc:
            _settle(job.future, exc=exc)
        else:
            _settle(job.future, result=result)

    async def _call(self, loop: asyncio.AbstractEventLoop, cols: Columns) -> Prediction:
        if cols.n <= INLINE_ROWS:
            return self._predict(cols)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pmle-predict")
        return await loop.run_in_executor(self._executor, self._predict, cols)

    async def close(self) -> None:
        """Stop the batching task and the worker thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None
) -> None:
    if future.done():  # the client went away
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
