"""A reload on one replica reaches every replica through the Redis record, and a bad record
never takes a replica down."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI

from service.inference.model_sync import ModelSync
from tests.service.conftest import (
    ADMIN_KEY,
    FAST_FAILURE,
    AppFactory,
    build_bundle,
    make_settings,
    running_app,
)
from tests.service.redis_server import RedisServer

ADMIN = {"X-API-Key": ADMIN_KEY}
# Long enough that only the explicit sync_once calls act: each test decides when a sync runs.
MANUAL = 3_600.0


@pytest.fixture
def prefix() -> str:
    """One key prefix for all replicas of a test: they share the record."""
    return f"s{uuid.uuid4().hex[:12]}"


@pytest.fixture
def bundles(tmp_path: Path) -> tuple[Path, Path]:
    return build_bundle(tmp_path / "v1"), build_bundle(tmp_path / "v2", version="fake-2", seed=7)


Replica = Callable[..., Awaitable[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
def replica(app_factory: AppFactory, bundles: tuple[Path, Path], prefix: str) -> Replica:
    """Start one more replica of the fleet: bundle v1, the shared prefix, syncs on demand."""

    async def start(**overrides: Any) -> tuple[FastAPI, httpx.AsyncClient]:
        settings = {
            "bundle_path": bundles[0],
            "redis_key_prefix": prefix,
            "model_sync_interval_s": MANUAL,
            **overrides,
        }
        return await app_factory(**settings)

    return start


def _sync(app: FastAPI) -> ModelSync:
    model_sync: ModelSync = app.state.model_sync
    return model_sync


async def _version(client: httpx.AsyncClient) -> str:
    version: str = (await client.get("/model")).json()["version"]
    return version


def _syncs(text: str, result: str) -> float:
    line = f'paarec_model_syncs_total{{result="{result}"}} '
    return sum(float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith(line))


def _write_record(redis_server: RedisServer, prefix: str, value: str) -> None:
    with redis.Redis.from_url(redis_server.url) as r:
        r.set(f"{prefix}:model:active", value)


def _record(path: Path | str, version: str = "hand-written") -> str:
    return json.dumps({"id": uuid.uuid4().hex, "path": str(path), "version": version})


async def test_a_reload_on_one_replica_reaches_the_other(
    replica: Replica, bundles: tuple[Path, Path]
) -> None:
    _, v2 = bundles
    _, first = await replica()
    # The second replica runs its real polling loop.
    _, second = await replica(model_sync_interval_s=0.05)
    resp = await first.post("/admin/reload", json={"path": str(v2)}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 20
    # The count goes up once the load has finished, a moment after /model shows the swap.
    while _syncs((await second.get("/metrics")).text, "ok") < 1:
        assert time.monotonic() < deadline, "the second replica never followed the reload"
        await asyncio.sleep(0.05)
    assert await _version(second) == "fake-2"
    await asyncio.sleep(0.2)  # a few more polls: the record is followed once, not on each
    assert _syncs((await second.get("/metrics")).text, "ok") == 1
    # The replica that reloaded does not load its own record a second time.
    assert _syncs((await first.get("/metrics")).text, "ok") == 0


async def test_a_replica_started_after_a_reload_serves_the_recorded_bundle(
    replica: Replica, bundles: tuple[Path, Path]
) -> None:
    _, v2 = bundles
    _, first = await replica()
    assert (await first.post("/admin/reload", json={"path": str(v2)}, headers=ADMIN)).is_success
    _, late = await replica()
    assert await _version(late) == "fake-2"


async def test_a_recorded_symlink_means_its_current_target_for_a_late_replica(
    replica: Replica, bundles: tuple[Path, Path], tmp_path: Path
) -> None:
    """The usual "current" link: flip it and restart, and the restarted replica serves the
    new target, not the folder the link pointed at when the reload was recorded."""
    v1, v2 = bundles
    current = tmp_path / "current"
    current.symlink_to(v1)
    _, first = await replica()
    assert (
        await first.post("/admin/reload", json={"path": str(current)}, headers=ADMIN)
    ).is_success
    current.unlink()
    current.symlink_to(v2)
    _, late = await replica()
    assert await _version(late) == "fake-2"


async def test_reloading_the_same_folder_again_reaches_the_other_replica(
    replica: Replica, bundles: tuple[Path, Path]
) -> None:
    """Each reload is a new record, so a bundle rebuilt in place is picked up too."""
    v1, _ = bundles
    _, first = await replica()
    second_app, second = await replica()
    meta = json.loads((v1 / "bundle.json").read_text())
    meta["model"]["version"] = "fake-1b"
    (v1 / "bundle.json").write_text(json.dumps(meta))
    assert (await first.post("/admin/reload", headers=ADMIN)).is_success
    await _sync(second_app).sync_once()
    assert await _version(second) == "fake-1b"


@pytest.mark.parametrize(
    ("record", "result"),
    [
        pytest.param(lambda tmp: _record(tmp / "missing"), "failed", id="missing-folder"),
        pytest.param(lambda tmp: _record(tmp.parent / "elsewhere"), "refused", id="outside-root"),
        pytest.param(lambda tmp: _record(tmp / "v2" / ".." / ".." / "x"), "refused", id="dotdot"),
        pytest.param(lambda tmp: "not json at all", None, id="junk"),
        pytest.param(lambda tmp: '{"id": "x", "path": ""}', None, id="wrong-shape"),
    ],
)
async def test_a_bad_record_is_refused_once_and_the_old_model_keeps_serving(
    replica: Replica,
    prefix: str,
    redis_server: RedisServer,
    tmp_path: Path,
    record: Any,
    result: str | None,
) -> None:
    app, client = await replica()
    _write_record(redis_server, prefix, record(tmp_path))
    for _ in range(3):
        await _sync(app).sync_once()
    assert await _version(client) == "fake-1"
    assert (await client.get("/readyz")).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert _syncs(metrics, "ok") == 0
    if result is not None:
        assert _syncs(metrics, result) == 1  # tried once, not on every poll


async def test_a_replica_starts_on_its_own_bundle_when_the_record_is_unusable(
    replica: Replica, prefix: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    _write_record(redis_server, prefix, _record(tmp_path / "gone"))
    _, client = await replica()
    assert await _version(client) == "fake-1"


async def test_with_sync_off_a_reload_stays_on_its_replica(
    replica: Replica, bundles: tuple[Path, Path], prefix: str, redis_server: RedisServer
) -> None:
    _, v2 = bundles
    _, first = await replica(model_sync_interval_s=0)
    _, second = await replica(model_sync_interval_s=0)
    assert (await first.post("/admin/reload", json={"path": str(v2)}, headers=ADMIN)).is_success
    assert await _version(second) == "fake-1"
    with redis.Redis.from_url(redis_server.url) as r:
        assert r.get(f"{prefix}:model:active") is None


async def test_a_reload_redis_cannot_record_is_a_503_and_a_retry_publishes_it(
    own_redis: RedisServer, bundles: tuple[Path, Path]
) -> None:
    v1, v2 = bundles
    settings = make_settings(v1, own_redis.url, model_sync_interval_s=MANUAL, **FAST_FAILURE)
    async with running_app(settings) as (_, client):
        own_redis.stop()
        resp = await client.post("/admin/reload", json={"path": str(v2)}, headers=ADMIN)
        assert resp.status_code == 503
        error = resp.json()["error"]
        assert error["code"] == "reload_not_published"
        assert "active on this worker only" in error["message"]
        own_redis.start()
        resp = await client.post("/admin/reload", json={"path": str(v2)}, headers=ADMIN)
        assert resp.status_code == 200, resp.text
        with redis.Redis.from_url(own_redis.url) as r:
            stored = json.loads(r.get(f"{settings.redis_key_prefix}:model:active") or "{}")
        assert stored["version"] == "fake-2"
        assert stored["path"] == str(v2.absolute())
