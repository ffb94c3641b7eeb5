"""Concurrent history reads are coalesced into one Redis pipeline and routed back per user."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.storage.history import HistoryStore
from service.storage.redis_client import StorageUnavailableError
from tests.service.conftest import AppFactory


async def test_concurrent_reads_share_one_pipeline_and_get_their_own_history(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = await app_factory()
    store: HistoryStore = app.state.store
    for n in range(12):
        items = [f"item{i}" for i in range(1, n + 2)]
        await client.post("/events", json={"user_id": f"r{n}", "items": items})
    pipelines = 0
    real_pipeline = store._client.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        nonlocal pipelines
        pipelines += 1
        return real_pipeline(*args, **kwargs)

    monkeypatch.setattr(store._client, "pipeline", counting_pipeline)
    results = await asyncio.gather(*(store.get(f"r{n}") for n in range(12)), store.get("none"))
    assert pipelines == 1
    assert results[:12] == [[f"item{i}" for i in range(1, n + 2)] for n in range(12)]
    assert results[12] == []
    assert await store.get("r3", limit=2) == ["item3", "item4"]  # a lone read: no pipeline
    assert pipelines == 1


async def test_a_failed_coalesced_read_fails_every_caller(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = await app_factory()
    store: HistoryStore = app.state.store

    def broken_pipeline(*_: Any, **__: Any) -> Any:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(store._client, "pipeline", broken_pipeline)
    results = await asyncio.gather(*(store.get(f"x{n}") for n in range(3)), return_exceptions=True)
    assert all(isinstance(r, StorageUnavailableError) for r in results)
