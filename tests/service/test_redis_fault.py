"""Redis stopping or stalling: bounded 503s, /readyz 503, recovery without a restart."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import redis

from tests.service.conftest import FAST_FAILURE, make_settings, running_app
from tests.service.redis_server import RedisServer

BOUND_S = 3.0


async def _timed(coro) -> tuple[httpx.Response, float]:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    resp = await coro
    return resp, time.monotonic() - start


async def test_redis_outage_gives_bounded_503s_and_recovers(
    own_redis: RedisServer, bundle_dir: Path
) -> None:
    settings = make_settings(
        bundle_dir,
        own_redis.url,
        **FAST_FAILURE,
    )
    async with running_app(settings) as (_, client):
        await client.post("/events", json={"user_id": "f", "items": ["item1", "item2"]})
        assert (await client.get("/readyz")).status_code == 200

        own_redis.stop()
        resp, took = await _timed(client.post("/recommend", json={"user_id": "f"}))
        assert resp.status_code == 503
        assert took < BOUND_S
        assert resp.json()["error"]["code"] == "storage_unavailable"
        resp, took = await _timed(client.post("/events", json={"user_id": "f", "item_id": "x"}))
        assert resp.status_code == 503
        assert took < BOUND_S
        resp, took = await _timed(client.get("/readyz"))
        assert resp.status_code == 503
        assert took < BOUND_S
        assert "redis" in resp.json()["error"]["message"]
        assert (await client.get("/healthz")).status_code == 200
        inline = await client.post("/recommend", json={"user_id": "f", "history": ["item3"]})
        assert inline.status_code == 200
        batch = await client.post("/recommend/batch", json={"requests": [{"user_id": "f"}]})
        assert batch.status_code == 503

        own_redis.start()  # same port, same AOF: the history survives
        deadline = time.monotonic() + 10
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "service did not recover"
            await asyncio.sleep(0.1)
        resp = await client.post("/recommend", json={"user_id": "f"})
        assert resp.status_code == 200
        assert resp.json()["history_length"] == 2
        assert "paarec_redis_errors_total" in (await client.get("/metrics")).text


async def test_stalled_redis_gives_bounded_503(own_redis: RedisServer, bundle_dir: Path) -> None:
    settings = make_settings(
        bundle_dir,
        own_redis.url,
        redis_socket_timeout_s=0.2,
        redis_retries=1,
        redis_op_timeout_s=0.8,
    )
    async with running_app(settings) as (_, client):
        await client.post("/events", json={"user_id": "s", "item_id": "item1"})
        sleeper = threading.Thread(
            target=lambda: redis.Redis(port=own_redis.port).execute_command("DEBUG", "SLEEP", 2)
        )
        sleeper.start()
        await asyncio.sleep(0.1)
        try:
            resp, took = await _timed(client.post("/recommend", json={"user_id": "s"}))
            assert resp.status_code == 503
            assert took < 1.5
        finally:
            await asyncio.to_thread(sleeper.join)
        resp = await client.post("/recommend", json={"user_id": "s"})
        assert resp.status_code == 200
