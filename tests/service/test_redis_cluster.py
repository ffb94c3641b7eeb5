"""The service against a real 3-master Redis Cluster (PAAREC_REDIS_CLUSTER=true).

Covers what differs from a single node: keys spread over the masters, each user's keys in the
slot of its ``{user:<id>}`` hash tag, the idempotent-append Lua script touching one slot,
pipelined batch reads across slots, and /readyz.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.service.conftest import FAST_FAILURE, make_settings, running_app
from tests.service.redis_cluster import LocalRedisCluster, free_ports

N_USERS = 50


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    cluster = LocalRedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def node_clients(redis_cluster: LocalRedisCluster) -> Iterator[list[redis.Redis]]:
    """A plain (non-cluster) client per master, to look at what each node really holds."""
    clients = [
        redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        for port in redis_cluster.ports
    ]
    yield clients
    for c in clients:
        c.close()


@pytest.fixture
async def cluster_app(
    bundle_dir: Path, redis_cluster: LocalRedisCluster
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    settings = make_settings(bundle_dir, redis_cluster.url, redis_cluster=True)
    async with running_app(settings) as (_, client):
        yield settings.redis_key_prefix, client


def user_items(n: int) -> list[str]:
    """A short, user-specific history of catalogue items (the fake bundle has item1..item50)."""
    return [f"item{(n * 7 + j) % 50 + 1}" for j in range(2 + n % 4)]


def keys_on(node: redis.Redis, prefix: str) -> list[str]:
    return sorted(str(k) for k in node.scan_iter(match=f"{prefix}:*", count=1000))


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: the first non-empty ``{...}``."""
    start = key.index("{")
    end = key.index("}", start + 1)
    assert end > start + 1
    return key[start + 1 : end]


async def test_readyz_in_cluster_mode(cluster_app: tuple[str, httpx.AsyncClient]) -> None:
    _, client = cluster_app
    resp = await client.get("/readyz")
    assert resp.status_code == 200, resp.text
    assert resp.json()["redis"] == "ok"


async def test_event_and_recommend_flow_over_the_cluster(
    cluster_app: tuple[str, httpx.AsyncClient], node_clients: list[redis.Redis]
) -> None:
    prefix, client = cluster_app
    users = {f"user-{n}": user_items(n) for n in range(N_USERS)}

    for user, items in users.items():
        resp = await client.post("/events", json={"user_id": user, "items": items[:-1]})
        assert resp.status_code == 200, resp.text
        resp = await client.post("/events", json={"user_id": user, "item_id": items[-1]})
        assert resp.status_code == 200, resp.text
        assert resp.json()["history_length"] == len(items)

    for user, items in users.items():
        resp = await client.get(f"/users/{user}/history")
        assert resp.status_code == 200, resp.text
        assert resp.json()["items"] == items
        resp = await client.post("/recommend", json={"user_id": user, "k": 5})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["fallback"] is None
        assert body["history_length"] == len(items)
        assert not {i["item_id"] for i in body["items"]} & set(items)

    # One pipelined read whose keys live in many slots on all three masters.
    requests: list[dict[str, Any]] = [{"user_id": user, "k": 4} for user in users]
    requests.insert(7, {"user_id": "inline", "k": 4, "history": ["item3"]})
    requests.append({"user_id": "nobody-cold", "k": 4})
    resp = await client.post("/recommend/batch", json={"requests": requests})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["user_id"] for r in results] == [r["user_id"] for r in requests]
    singles = [(await client.post("/recommend", json=r)).json() for r in requests]
    for batched, single in zip(results, singles, strict=True):
        # Same answer as one-by-one; scores only up to float rounding (different batch shapes).
        assert {**batched, "items": None} == {**single, "items": None}
        assert [i["item_id"] for i in batched["items"]] == [i["item_id"] for i in single["items"]]
        assert [i["score"] for i in batched["items"]] == pytest.approx(
            [i["score"] for i in single["items"]], rel=1e-5, abs=1e-5
        )
    assert [r["fallback"] for r in results] == [None] * (N_USERS + 1) + ["popular"]

    # Keys are spread over every master, and each sits in its hash tag's slot.
    per_node = [keys_on(node, prefix) for node in node_clients]
    assert all(per_node), [len(k) for k in per_node]
    assert sum(len(k) for k in per_node) == N_USERS
    expected = {f"{prefix}:{{user:{user}}}:history" for user in users}
    assert {k for keys in per_node for k in keys} == expected
    for node, keys in zip(node_clients, per_node, strict=True):
        for key in keys:
            slot = node.execute_command("CLUSTER", "KEYSLOT", key)
            assert slot == node.execute_command("CLUSTER", "KEYSLOT", hash_tag(key))
            assert node.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) >= 1
        assert node.dbsize() == len(keys)

    for user in users:
        resp = await client.delete(f"/users/{user}/history")
        assert resp.json() == {"user_id": user, "deleted": True}
    assert not any(keys_on(node, prefix) for node in node_clients)
    resp = await client.post("/recommend", json={"user_id": "user-0"})
    assert resp.json()["fallback"] == "popular"


async def test_repeated_event_id_is_stored_once_in_one_slot(
    cluster_app: tuple[str, httpx.AsyncClient], node_clients: list[redis.Redis]
) -> None:
    prefix, client = cluster_app
    # Ids with braces too: the tag is cut at the first '}', identically for both keys.
    for user in ("gina", "odd{id}", "}x{"):
        event = {"user_id": user, "items": ["item1", "item2"], "event_id": "evt-1"}
        first = (await client.post("/events", json=event)).json()
        assert first["accepted"] == 2
        assert first["duplicate"] is False
        again = (await client.post("/events", json=event)).json()
        assert again == {**first, "accepted": 0, "duplicate": True}
        history = (await client.get(f"/users/{user}/history")).json()
        assert history["items"] == ["item1", "item2"]

        history_key = f"{prefix}:{{user:{user}}}:history"
        event_key = f"{prefix}:{{user:{user}}}:event:evt-1"
        holders = [
            node for node in node_clients if {history_key, event_key} <= set(keys_on(node, prefix))
        ]
        assert len(holders) == 1
        slot = holders[0].execute_command("CLUSTER", "KEYSLOT", history_key)
        assert slot == holders[0].execute_command("CLUSTER", "KEYSLOT", event_key)


async def test_unreachable_cluster_gives_503s_not_500s(bundle_dir: Path) -> None:
    """No startup node answers: redis-py raises RedisClusterException, not a RedisError."""
    dead = free_ports(1)[0]
    settings = make_settings(
        bundle_dir,
        f"redis://127.0.0.1:{dead}",
        redis_cluster=True,
        **FAST_FAILURE,
    )
    async with running_app(settings) as (_, client):
        resp = await client.get("/readyz")
        assert resp.status_code == 503
        assert "redis" in resp.json()["error"]["message"]
        resp = await client.post("/events", json={"user_id": "u", "item_id": "item1"})
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "storage_unavailable"
        resp = await client.post("/recommend/batch", json={"requests": [{"user_id": "u"}]})
        assert resp.status_code == 503


async def test_a_master_down_fails_readyz_and_its_users_get_bounded_503s(
    bundle_dir: Path, tmp_path: Path
) -> None:
    """A plain PING reaches one node; readiness must notice any primary being gone."""
    cluster = LocalRedisCluster(tmp_path / "cluster")
    cluster.start()
    try:
        settings = make_settings(
            bundle_dir,
            cluster.url,
            redis_cluster=True,
            **FAST_FAILURE,
        )
        async with running_app(settings) as (_, client):
            for n in range(12):
                await client.post("/events", json={"user_id": f"w{n}", "items": user_items(n)})
            assert (await client.get("/readyz")).status_code == 200
            victim = 2  # not the startup node
            with redis.Redis(port=cluster.ports[victim], decode_responses=True) as node:
                held = keys_on(node, settings.redis_key_prefix)
            assert held, "12 users should touch every master"
            user = hash_tag(held[0]).removeprefix("user:")

            cluster.stop_node(victim)
            resp, took = await timed(client.get("/readyz"))
            assert resp.status_code == 503
            assert took < 3.0
            resp, took = await timed(client.post("/recommend", json={"user_id": user}))
            assert resp.status_code == 503
            assert resp.json()["error"]["code"] == "storage_unavailable"
            assert took < 3.0
    finally:
        cluster.stop()


async def timed(call: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    resp = await call
    return resp, time.monotonic() - start
