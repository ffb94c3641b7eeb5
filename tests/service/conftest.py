"""Fixtures: a real redis-server, a bundle, and the app with its lifespan over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.core.config import Settings
from service.main import create_app
from tests.service.redis_server import RedisServer
from tests.utils.tiny_bundle import export_named_bundle

ADMIN_KEY = "admin-key-0123456789abcdef"
API_KEY = "client-key-0123456789abcdef"
# Redis timeouts for tests that stop Redis: each failed call gives up well under a second.
FAST_FAILURE: dict[str, Any] = {
    "redis_connect_timeout_s": 0.3,
    "redis_socket_timeout_s": 0.3,
    "redis_op_timeout_s": 1.0,
}


def build_bundle(path: Path, version: str = "fake-1", seed: int = 0) -> Path:
    """A real bundle: a tiny PAA model trained for a few steps and exported (items
    ``item1..item50``, T = 20, max K = 20, titles), copied from a per-session cache."""
    return export_named_bundle(path, version=version, seed=seed)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bundle(tmp_path_factory.mktemp("bundle") / "v1")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis-data"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, for tests that stop or stall it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def make_settings(bundle: Path, redis_url: str, **overrides: Any) -> Settings:
    """Settings isolated from the environment, with a unique key prefix per test."""
    values: dict[str, Any] = {
        "bundle_path": bundle,
        "redis_url": redis_url,
        "redis_key_prefix": f"t{uuid.uuid4().hex[:12]}",
        "admin_api_key": ADMIN_KEY,
        "log_level": "WARNING",
        "batch_max_wait_us": 500,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_app(
    settings: Settings, **client_kwargs: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan run, and an httpx client speaking ASGI to it."""
    app = create_app(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://test", **client_kwargs)
        )
        yield app, client


AppFactory = Callable[..., Awaitable[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
async def app_factory(bundle_dir: Path, redis_server: RedisServer) -> AsyncIterator[AppFactory]:
    """Build apps with setting overrides; all are shut down at teardown."""
    async with AsyncExitStack() as stack:

        async def factory(**overrides: Any) -> tuple[FastAPI, httpx.AsyncClient]:
            settings = make_settings(bundle_dir, redis_server.url, **overrides)
            return await stack.enter_async_context(running_app(settings))

        yield factory


@pytest.fixture
async def served(app_factory: AppFactory) -> tuple[FastAPI, httpx.AsyncClient]:
    """The default app (admin key set, no client keys) and its client."""
    return await app_factory()


@pytest.fixture
def client(served: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return served[1]
