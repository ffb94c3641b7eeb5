"""Micro-batching: coalescing, routing of results, bucketed shapes, back-pressure."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from service.inference.batcher import MicroBatcher, OverloadedError, default_buckets
from tests.service.conftest import AppFactory


def _sample(metrics_text: str, name: str) -> float:
    return float(re.search(rf"^{name} (\S+)$", metrics_text, re.M)[1])


def _batch_stats(metrics_text: str) -> tuple[float, float]:
    count = _sample(metrics_text, "paarec_inference_batch_size_count")
    return count, _sample(metrics_text, "paarec_inference_batch_size_sum")


async def test_concurrent_requests_are_coalesced_and_routed_back(app_factory: AppFactory) -> None:
    rng = np.random.default_rng(0)
    requests = [
        {
            "user_id": f"u{i}",
            "k": int(rng.integers(1, 21)),
            "exclude_seen": bool(i % 2),
            "history": [f"item{j}" for j in rng.integers(1, 51, size=int(rng.integers(1, 25)))],
        }
        for i in range(64)
    ]
    _, unbatched = await app_factory(batch_max_size=1, batch_max_wait_us=0)
    expected = [(await unbatched.post("/recommend", json=r)).json() for r in requests]

    _, client = await app_factory(batch_max_size=64, batch_max_wait_us=20_000)
    before = _batch_stats((await client.get("/metrics")).text)
    responses = await asyncio.gather(*(client.post("/recommend", json=r) for r in requests))
    after = _batch_stats((await client.get("/metrics")).text)
    runs, rows = after[0] - before[0], after[1] - before[1]
    assert rows == 64
    assert runs < 64
    assert rows / runs > 1
    for req, resp, want in zip(requests, responses, expected, strict=True):
        got = resp.json()
        assert got["user_id"] == req["user_id"]
        assert len(got["items"]) == req["k"]
        assert [i["item_id"] for i in got["items"]] == [i["item_id"] for i in want["items"]]
        np.testing.assert_allclose(
            [i["score"] for i in got["items"]], [i["score"] for i in want["items"]], atol=1e-5
        )


async def test_full_queue_answers_503_overloaded(app_factory: AppFactory) -> None:
    app, client = await app_factory(batch_max_size=1, batch_queue_size=1, batch_max_wait_us=0)
    batcher = app.state.recommender.current.batcher
    real_run = batcher._run

    def slow_run(*args: Any) -> Any:
        time.sleep(0.2)
        return real_run(*args)

    batcher._run = slow_run
    body = {"user_id": "o", "history": ["item1"]}
    responses = await asyncio.gather(*(client.post("/recommend", json=body) for _ in range(8)))
    codes = [r.status_code for r in responses]
    assert 200 in codes
    assert 503 in codes
    rejected = next(r for r in responses if r.status_code == 503)
    assert rejected.json()["error"]["code"] == "overloaded"
    assert rejected.headers["retry-after"] == "1"
    metrics = (await client.get("/metrics")).text
    assert "paarec_inference_queue_rejections_total 0.0" not in metrics
    assert _sample(metrics, "paarec_inference_queue_wait_seconds_count") == codes.count(200)
    assert _sample(metrics, "paarec_inference_queue_wait_seconds_sum") > 0


def test_default_buckets_are_powers_of_two_capped_at_max_len() -> None:
    assert default_buckets(20) == [1, 2, 4, 8, 16, 20]
    assert default_buckets(16) == [1, 2, 4, 8, 16]
    assert default_buckets(20, [5, 10, 50]) == [5, 10, 20]


async def test_batches_run_once_per_length_bucket_and_slice_per_request() -> None:
    shapes: list[tuple[tuple[int, ...], int, tuple[int, ...]]] = []

    def fake_run(history: np.ndarray, k: int, seen: np.ndarray, exclude: np.ndarray) -> Any:
        shapes.append((history.shape, k, exclude.shape))
        # score = row id, items = the row's last history item repeated
        b = history.shape[0]
        return (
            np.repeat(np.arange(b, dtype=np.float32)[:, None], k, 1),
            np.repeat(history[:, -1:], k, 1),
        )

    with ThreadPoolExecutor(1) as pool:
        batcher = MicroBatcher(
            fake_run, pool, max_len=20, max_batch=8, max_wait_us=50_000, queue_size=16
        )
        batcher.start()
        futures = [
            batcher.submit(np.array([7, 3], np.int64), 2, True, np.array([], np.int64)),
            batcher.submit(np.arange(1, 6, dtype=np.int64), 5, False, np.array([1, 2, 3])),
            batcher.submit(np.arange(1, 30, dtype=np.int64), 1, True, np.array([], np.int64)),
        ]
        results = await asyncio.gather(*futures)
        await batcher.close()
    # one coalesced batch, one run per length bucket (2 -> 2, 5 -> 8, 29 -> cut to 20 -> 20)
    assert sorted(shapes) == [((1, 2), 2, (1, 1)), ((1, 8), 5, (1, 4)), ((1, 20), 1, (1, 1))]
    assert [len(s) for s, _ in results] == [2, 5, 1]
    assert [int(items[0]) for _, items in results] == [3, 5, 29]


async def test_queue_bound_raises_overloaded_and_close_drains() -> None:
    def fake_run(history: np.ndarray, k: int, seen: np.ndarray, exclude: np.ndarray) -> Any:
        return np.zeros((history.shape[0], k), np.float32), np.ones((history.shape[0], k), np.int64)

    with ThreadPoolExecutor(1) as pool:
        batcher = MicroBatcher(fake_run, pool, max_len=4, max_batch=2, max_wait_us=0, queue_size=2)
        one = np.array([1], np.int64)
        none = np.array([], np.int64)
        # the worker is not started yet, so nothing leaves the queue
        futures = [batcher.submit(one, 1, True, none) for _ in range(2)]
        with pytest.raises(OverloadedError):
            batcher.submit(one, 1, True, none)
        batcher.start()
        await batcher.close()
        assert all(f.done() and f.result()[1].tolist() == [1] for f in futures)
