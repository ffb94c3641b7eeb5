"""In-process ONNX Runtime measurements for the serving benchmark (no HTTP, no Redis).

Raw batched throughput, the session-option sweep, latency against history length and against
catalogue size, and the memory-bandwidth floor of an exact top-K over a catalogue.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from itertools import cycle, product
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from service.inference.batcher import default_buckets
from service.inference.session import OnnxSession, SessionConfig


def pad_batch(histories: Sequence[np.ndarray], buckets: list[int]) -> list[np.ndarray]:
    """Group rows by length bucket and left-pad each group, as the micro-batcher does."""
    groups: dict[int, list[np.ndarray]] = {}
    for h in histories:
        groups.setdefault(next(b for b in buckets if b >= len(h)), []).append(h)
    out = []
    for length, rows in groups.items():
        padded = np.zeros((len(rows), length), dtype=np.int64)  # (B_g, L)
        for row, h in enumerate(rows):
            padded[row, length - len(h) :] = h
        out.append(padded)
    return out


def time_calls(fn: Callable[[], Any], min_seconds: float, min_calls: int = 5) -> list[float]:
    """Seconds per call, after one untimed warm-up call."""
    fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < min_calls or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return samples


def run_batch(session: OnnxSession, history: np.ndarray, k: int = 10) -> None:
    rows = history.shape[0]
    session.run(history, k, np.ones(rows, dtype=bool), np.zeros((rows, 1), dtype=np.int64))


def run_groups(session: OnnxSession, groups: list[np.ndarray], k: int = 10) -> None:
    for history in groups:
        run_batch(session, history, k)


def _cycle_groups(session: OnnxSession, batches: Iterator[list[np.ndarray]]) -> None:
    run_groups(session, next(batches))


def batch_sweep(
    model: Path,
    config: SessionConfig,
    histories: list[np.ndarray],
    max_len: int,
    sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128),
    seconds: float = 1.0,
    weights: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Rows/s of raw ORT at each batch size; histories drawn with ``weights`` (the client's
    Zipf skew over users) and grouped/padded per length bucket as the batcher does."""
    session = OnnxSession(model, config)
    buckets = default_buckets(max_len)
    rng = np.random.default_rng(0)
    out = []
    for size in sizes:
        batches = [
            pad_batch([histories[i] for i in rng.choice(len(histories), size, p=weights)], buckets)
            for _ in range(16)
        ]
        samples = time_calls(partial(_cycle_groups, session, cycle(batches)), seconds)
        mean = statistics.fmean(samples)
        out.append(
            {
                "system": "raw_ort",
                "batch_size": size,
                "concurrency": size,
                "rps": size / mean,
                "p50_ms": float(np.percentile(samples, 50) * 1000),
                "p95_ms": float(np.percentile(samples, 95) * 1000),
                "p99_ms": float(np.percentile(samples, 99) * 1000),
            }
        )
    return out


def option_sweep(
    model: Path, histories: list[np.ndarray], max_len: int, seconds: float = 0.6
) -> list[dict[str, Any]]:
    """Raw ORT latency at batch 1 and 32 for every combination of the session knobs."""
    out = []
    for threads, spin, level, mem in product(
        (1, 2), (True, False), ("basic", "all"), (True, False)
    ):
        config = SessionConfig(
            "cpu",
            intra_op_threads=threads,
            allow_spinning=spin,
            graph_optimization=level,  # type: ignore[arg-type]
            enable_mem_pattern=mem,
        )
        rows = batch_sweep(model, config, histories, max_len, (1, 32), seconds)
        out.append(
            {
                "intra_op_threads": threads,
                "allow_spinning": spin,
                "graph_optimization": level,
                "enable_mem_pattern": mem,
                "b1_p50_ms": rows[0]["p50_ms"],
                "b32_p50_ms": rows[1]["p50_ms"],
                "b32_rps": rows[1]["rps"],
            }
        )
    return out


def length_sweep(
    model: Path, config: SessionConfig, histories: list[np.ndarray], lengths: Sequence[int]
) -> list[dict[str, Any]]:
    """p50 latency of raw ORT at batch 1 and 32 against the (unpadded) history length."""
    session = OnnxSession(model, config)
    pool = np.concatenate(histories)
    out = []
    for length in lengths:
        for size in (1, 32):
            batch = np.stack([np.resize(np.roll(pool, 7 * r), length) for r in range(size)])
            samples = time_calls(partial(run_batch, session, batch), 0.3)
            out.append({"history_length": length, "batch_size": size, "p50_ms": _p50_ms(samples)})
    return out


def _p50_ms(samples: list[float]) -> float:
    return float(np.median(samples) * 1000)


def resize_catalogue(source: Path, n_items: int, new_items: int, out: Path, seed: int = 0) -> Path:
    """The real graph with its item table swapped for a random one of ``new_items`` items: same
    encoder and tail, only the catalogue size changes."""
    model = onnx.load(str(source))
    rng = np.random.default_rng(seed)
    old = n_items + 1
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.ndim != 2 or old not in arr.shape:
            continue
        if arr.shape[0] == old:  # (N + 1, d) item table
            new = rng.standard_normal((new_items + 1, arr.shape[1])).astype(arr.dtype) * 0.05
        else:  # (d, N + 1) transposed item table
            new = rng.standard_normal((arr.shape[0], new_items + 1)).astype(arr.dtype) * 0.05
        init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(new), init.name))
    del model.graph.value_info[:]  # stale shape annotations
    onnx.save(model, str(out))
    return out


def bandwidth_floor_ms(n_items: int, hidden: int, repeats: int = 15) -> float:
    """Median time to stream an (N, d) float32 matrix from memory once (numpy sum)."""
    table = np.random.default_rng(0).standard_normal((n_items, hidden), dtype=np.float32)
    return _p50_ms([_timed(lambda: table.sum(dtype=np.float32)) for _ in range(repeats)])


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def catalogue_sweep(
    model: Path,
    config: SessionConfig,
    n_items: int,
    hidden: int,
    histories: list[np.ndarray],
    workdir: Path,
    sizes: Sequence[int] = (1_000, 10_000, 100_000, 1_000_000),
) -> list[dict[str, Any]]:
    """Batch-1 latency of the full graph against catalogue size, with the floor per size."""
    out = []
    rng = np.random.default_rng(1)
    for size in sizes:
        path = resize_catalogue(model, n_items, size, workdir / f"catalogue-{size}.onnx")
        session = OnnxSession(path, config)
        picks = [histories[i] for i in rng.integers(len(histories), size=32)]
        batches = [np.minimum(h, size)[None, :] for h in picks]  # indices valid in the new table
        groups = cycle([[b] for b in batches])
        samples = time_calls(partial(_cycle_groups, session, groups), 1.0, min_calls=20)
        floor = bandwidth_floor_ms(size, hidden)
        out.append(
            {
                "n_items": size,
                "p50_ms": _p50_ms(samples),
                "p99_ms": float(np.percentile(samples, 99) * 1000),
                "floor_ms": floor,
            }
        )
        path.unlink()
    return out
