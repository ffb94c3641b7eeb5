"""Concurrent appends for one user lose nothing and keep the newest items in order."""

from __future__ import annotations

import asyncio

import httpx

from tests.service.conftest import AppFactory


async def _append(client: httpx.AsyncClient, user: str, items: list[str]) -> None:
    resp = await client.post("/events", json={"user_id": user, "items": items})
    assert resp.status_code == 200, resp.text


async def test_200_concurrent_appends_lose_nothing(app_factory: AppFactory) -> None:
    _, client = await app_factory(history_max_len=1000)
    pairs = [[f"r{i}-a", f"r{i}-b"] for i in range(200)]
    await asyncio.gather(*(_append(client, "busy", p) for p in pairs))
    stored = (await client.get("/users/busy/history")).json()["items"]
    assert len(stored) == 400
    assert sorted(stored) == sorted(x for p in pairs for x in p)
    # each request's items stay adjacent and in order: appends are atomic
    for pos in range(0, 400, 2):
        a, b = stored[pos], stored[pos + 1]
        assert a.endswith("-a")
        assert b == a[:-2] + "-b"


async def test_200_concurrent_appends_keep_exactly_the_newest_cap(app_factory: AppFactory) -> None:
    _, client = await app_factory(history_max_len=50)
    sent = [f"c{i}" for i in range(200)]
    await asyncio.gather(*(_append(client, "capped", [x]) for x in sent))
    stored = (await client.get("/users/capped/history")).json()["items"]
    assert len(stored) == 50
    assert len(set(stored)) == 50
    assert set(stored) <= set(sent)
    # then sequential appends: they are the newest, so they end the list in order
    tail = [f"t{i}" for i in range(20)]
    for x in tail:
        await _append(client, "capped", [x])
    final = (await client.get("/users/capped/history")).json()["items"]
    assert final[-20:] == tail
    assert final[:30] == stored[-30:]
