"""Per-user capped interaction histories in Redis, stored as external item ids."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ClusterDownError

from service.core.metrics import Metrics
from service.storage.redis_client import RedisClient, StorageUnavailableError, timed_call

T = TypeVar("T")
_Read = tuple[str, int, "asyncio.Future[list[str]]"]  # key, LRANGE start, caller's future

# KEYS[1] history list, KEYS[2] idempotency key (optional; same hash slot as KEYS[1]).
# ARGV: cap, ttl seconds (0 = none), event-id ttl seconds, items...
# One script = one atomic step: a retried event is never appended twice, and concurrent
# appends to one user interleave whole, never lose items.
_APPEND_LUA = """
local cap = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
if KEYS[2] then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[3])) then
    return {0, redis.call('LLEN', KEYS[1])}
  end
end
local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, 4))
if n > cap then redis.call('LTRIM', KEYS[1], -cap, -1); n = cap end
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return {1, n}
"""


@dataclass(frozen=True)
class AppendResult:
    stored: bool  # False when the event id was seen before
    length: int


class HistoryStore:
    """Append, read and erase histories; every call is bounded in time and measured."""

    def __init__(
        self,
        client: RedisClient,
        metrics: Metrics,
        *,
        prefix: str,
        max_len: int,
        ttl_s: int,
        event_ttl_s: int,
        op_timeout_s: float,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._prefix = prefix
        self.max_len = max_len
        self._ttl_s = ttl_s
        self._event_ttl_s = event_ttl_s
        self._timeout = op_timeout_s
        self._append = client.register_script(_APPEND_LUA)
        self._pending_reads: list[_Read] = []
        self._flushes: set[asyncio.Task[None]] = set()

    def history_key(self, user_id: str) -> str:
        # The {user:<id>} hash tag keeps every key of one user on one cluster slot.
        return f"{self._prefix}:{{user:{user_id}}}:history"

    def event_key(self, user_id: str, event_id: str) -> str:
        return f"{self._prefix}:{{user:{user_id}}}:event:{event_id}"

    async def _timed(self, op: str, call: Awaitable[T]) -> T:
        return await timed_call(self._metrics, op, call, self._timeout)

    async def append(
        self, user_id: str, items: Sequence[str], event_id: str | None = None
    ) -> AppendResult:
        """Append items (oldest first) and trim to the newest ``max_len``, in one round trip."""
        keys = [self.history_key(user_id)]
        if event_id is not None:
            keys.append(self.event_key(user_id, event_id))
        args: list[Any] = [self.max_len, self._ttl_s, self._event_ttl_s, *items]
        stored, length = await self._timed("append", self._append(keys=keys, args=args))
        return AppendResult(bool(stored), int(length))

    async def get(self, user_id: str, limit: int | None = None) -> list[str]:
        """The newest ``limit`` items (default all), oldest first.

        Reads issued in the same event-loop turn (concurrent requests) are sent as one
        pipeline: one round trip and one parse for the lot instead of one per request.
        """
        start = -(limit or self.max_len)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[str]] = loop.create_future()
        if not self._pending_reads:
            loop.call_soon(self._flush_reads)
        self._pending_reads.append((self.history_key(user_id), start, future))
        return await future

    def _flush_reads(self) -> None:
        reads, self._pending_reads = self._pending_reads, []
        task = asyncio.get_running_loop().create_task(self._read_batch(reads))
        self._flushes.add(task)  # keep a reference until done
        task.add_done_callback(self._flushes.discard)

    async def _read_batch(self, reads: list[_Read]) -> None:
        async def run() -> list[Any]:
            if len(reads) == 1:
                key, start, _ = reads[0]
                return [await self._client.lrange(key, start, -1)]
            async with self._client.pipeline(transaction=False) as pipe:
                for key, start, _ in reads:
                    pipe.lrange(key, start, -1)
                return list(await pipe.execute())

        try:
            results = await self._timed("get", run())
        except StorageUnavailableError as exc:
            for *_, future in reads:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), result in zip(reads, results, strict=True):
            if not future.done():
                future.set_result([str(x) for x in result])

    async def get_many(self, user_ids: Sequence[str], limit: int | None = None) -> list[list[str]]:
        """Several histories in one pipelined round trip."""
        start = -(limit or self.max_len)

        async def run() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    pipe.lrange(self.history_key(user_id), start, -1)
                return list(await pipe.execute())

        results = await self._timed("get_many", run())
        return [list(r) for r in results]

    async def delete(self, user_id: str) -> bool:
        """Erase a user's history; True when there was one."""
        removed = await self._timed("delete", self._client.delete(self.history_key(user_id)))
        return bool(removed)

    async def ping(self) -> None:
        """Raise StorageUnavailableError unless Redis answers.

        In cluster mode a plain PING reaches one node only, so every primary must answer and
        the cluster must report ``cluster_state:ok`` (it refuses queries otherwise).
        """
        if isinstance(self._client, RedisCluster):
            await self._timed("ping", self._cluster_ready(self._client))
        else:
            await self._timed("ping", self._client.ping())

    @staticmethod
    async def _cluster_ready(client: RedisCluster) -> None:
        await client.ping(target_nodes=RedisCluster.PRIMARIES)
        info = await client.cluster_info()
        state = info.get("cluster_state") if isinstance(info, dict) else None
        if state != "ok":
            raise ClusterDownError(f"cluster_state:{state}")
