"""Micro-batching: coalesce concurrent requests into one ONNX Runtime run."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

RunFn = Callable[[np.ndarray, int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
Result = tuple[np.ndarray, np.ndarray]  # scores (k,), items (k,)


class OverloadedError(Exception):
    """The inference queue is full; the caller should answer 503."""


class BatcherClosedError(Exception):
    """The batcher is shutting down and takes no new work."""


class InferenceError(Exception):
    """ONNX Runtime raised while running a batch."""


@dataclass
class _Pending:
    history: np.ndarray  # (n,) int64, 1 <= n <= max_len
    k: int
    exclude_seen: bool
    exclude: np.ndarray  # (e,) int64, maybe empty
    future: asyncio.Future[Result] = field(repr=False)
    queued_at: float = field(default_factory=time.perf_counter, repr=False)


def default_buckets(max_len: int, configured: Sequence[int] = ()) -> list[int]:
    """Padded history lengths: the configured ones (or powers of two), capped, plus max_len."""
    base = list(configured)
    if not base:
        base, b = [], 1
        while b < max_len:
            base.append(b)
            b *= 2
    return sorted({b for b in base if b < max_len} | {max_len})


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class MicroBatcher:
    """Queue + one worker task; each batch is padded to a length bucket and run in ``executor``."""

    def __init__(
        self,
        run: RunFn,
        executor: Executor,
        *,
        max_len: int,
        max_batch: int,
        max_wait_us: int,
        queue_size: int,
        buckets: Sequence[int] = (),
        on_batch: Callable[[int, float, list[float]], None] | None = None,
    ) -> None:
        self._run = run
        self._executor = executor
        self.max_len = max_len
        self.max_batch = max_batch
        self.max_wait_s = max_wait_us / 1e6
        self.buckets = default_buckets(max_len, buckets)
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue(maxsize=queue_size)
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._worker(), name="micro-batcher")

    def submit(
        self, history: np.ndarray, k: int, exclude_seen: bool, exclude: np.ndarray
    ) -> asyncio.Future[Result]:
        """Enqueue one request without awaiting; raises OverloadedError when the queue is full."""
        if self._closed:
            raise BatcherClosedError("inference engine is shutting down")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        pending = _Pending(history[-self.max_len :], k, exclude_seen, exclude, future)
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise OverloadedError("inference queue is full") from None
        return future

    async def close(self) -> None:
        """Stop taking work, finish everything already queued, then stop the worker."""
        if self._closed:
            return
        self._closed = True
        await self._queue.put(None)
        if self._task is not None:
            await self._task

    def _drain(self, batch: list[_Pending]) -> bool:
        """Move queued requests into ``batch`` up to max size; True when the stop mark was seen."""
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return False
            if item is None:
                return True
            batch.append(item)
        return False

    async def _worker(self) -> None:
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            stop = self._drain(batch)
            if not stop and len(batch) < self.max_batch and self.max_wait_s > 0:
                await asyncio.sleep(self.max_wait_s)
                stop = self._drain(batch)
            live = [p for p in batch if not p.future.done()]  # drop requests that gave up
            if live:
                await self._execute(live)

    async def _execute(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self._run_grouped, batch)
        except Exception as exc:
            logger.exception("inference failed", extra={"batch_size": len(batch)})
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(InferenceError(str(exc)))
            return
        if self._on_batch is not None:
            waits = [start - p.queued_at for p in batch]
            self._on_batch(len(batch), time.perf_counter() - start, waits)
        for p, result in zip(batch, results, strict=True):
            if not p.future.done():
                p.future.set_result(result)

    def _run_grouped(self, batch: list[_Pending]) -> list[Result]:
        """One ORT run per length bucket present in the batch; results in request order.

        Padding a mixed batch to its longest row costs far more than a second run: attention is
        quadratic in the padded length (see docs/benchmarks/serving.md).
        """
        groups: dict[int, list[int]] = {}
        for row, p in enumerate(batch):
            length = next(b for b in self.buckets if b >= len(p.history))
            groups.setdefault(length, []).append(row)
        results: list[Result | None] = [None] * len(batch)
        for length, rows in groups.items():
            group = [batch[r] for r in rows]
            scores, items = self._run_padded(group, length)
            for i, (row, p) in enumerate(zip(rows, group, strict=True)):
                results[row] = (scores[i, : p.k].copy(), items[i, : p.k].copy())
        return [r for r in results if r is not None]

    def _run_padded(self, batch: list[_Pending], length: int) -> Result:
        """Left-pad histories to ``length`` and excludes to a power of two; one ORT run."""
        width = _next_pow2(max(1, *(len(p.exclude) for p in batch)))
        history = np.zeros((len(batch), length), dtype=np.int64)  # (B, L)
        exclude = np.zeros((len(batch), width), dtype=np.int64)  # (B, E)
        for row, p in enumerate(batch):
            history[row, length - len(p.history) :] = p.history
            exclude[row, : len(p.exclude)] = p.exclude
        exclude_seen = np.array([p.exclude_seen for p in batch], dtype=bool)  # (B,)
        k = max(p.k for p in batch)
        return self._run(history, k, exclude_seen, exclude)
