"""Create and close the process-wide Redis client (single node or cluster)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.core.config import Settings
from service.core.metrics import Metrics

RedisClient = Redis | RedisCluster
T = TypeVar("T")


class StorageUnavailableError(Exception):
    """Redis failed or did not answer within the bounded timeout."""


async def timed_call(metrics: Metrics, op: str, call: Awaitable[T], timeout_s: float) -> T:
    """One Redis call, bounded in time and measured; every failure becomes one error type."""
    start = time.perf_counter()
    try:
        # asyncio.timeout, not wait_for: no extra Task per Redis call on the hot path
        async with asyncio.timeout(timeout_s):
            return await call
    # RedisClusterException (e.g. no startup node reachable, a slot not covered) is not
    # a RedisError: without it a cluster outage would surface as a 500, not a 503.
    except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
        metrics.redis_errors.labels(op).inc()
        raise StorageUnavailableError(f"redis {op} failed: {type(exc).__name__}") from exc
    finally:
        metrics.redis_latency.labels(op).observe(time.perf_counter() - start)


@dataclass
class RedisHandle:
    """The client and, for a single node, the pool it borrows connections from."""

    client: RedisClient
    pool: ConnectionPool | None

    async def aclose(self) -> None:
        """Close the client, then the pool (redis-py asyncio shutdown order)."""
        await self.client.aclose()
        if self.pool is not None:
            await self.pool.aclose()


def _retry(settings: Settings) -> Retry:
    # Bounded: at most redis_retries extra tries, each waiting <= redis_backoff_cap_s.
    return Retry(
        ExponentialBackoff(cap=settings.redis_backoff_cap_s, base=settings.redis_backoff_base_s),
        settings.redis_retries,
        supported_errors=(RedisConnectionError, RedisTimeoutError, ConnectionResetError),
    )


def create_redis(settings: Settings) -> RedisHandle:
    """One pool per process, built in the app lifespan; never a client per request."""
    url = settings.redis_url.get_secret_value()
    common = {
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_connect_timeout": settings.redis_connect_timeout_s,
        "retry": _retry(settings),
        "decode_responses": True,
        "health_check_interval": 30,
    }
    if settings.redis_cluster:
        cluster = RedisCluster.from_url(
            url, max_connections=settings.redis_max_connections, **common
        )
        return RedisHandle(cluster, None)
    # Blocking pool: a burst waits (bounded) for a free connection instead of failing at once.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_op_timeout_s,
        **common,
    )
    return RedisHandle(Redis(connection_pool=pool), pool)
