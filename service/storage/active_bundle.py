"""The bundle the whole fleet should serve: one Redis key that a reload writes and every
worker and replica polls.

A key that is polled, rather than a pub/sub message: a worker that was restarting or cut off
from Redis when the reload happened still converges, and a plain GET/SET works on Redis
Cluster as well.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.core.metrics import Metrics
from service.storage.redis_client import RedisClient, timed_call


class ActiveBundle(BaseModel):
    """One reload's choice; ``id`` tells two reloads of the same folder apart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    path: str = Field(min_length=1)
    version: str  # whatever bundle.json says; not limited, so publishing never fails on it


class ActiveBundleUnreadableError(Exception):
    """The key holds something that is not a record this service wrote."""


class ActiveBundleStore:
    """Read and write the fleet's active-bundle record, bounded in time like every Redis call."""

    def __init__(
        self, client: RedisClient, metrics: Metrics, *, prefix: str, op_timeout_s: float
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._timeout = op_timeout_s
        self.key = f"{prefix}:model:active"

    async def read(self) -> ActiveBundle | None:
        """The recorded bundle, or None before the first reload."""
        raw = await timed_call(
            self._metrics, "bundle_read", self._client.get(self.key), self._timeout
        )
        if raw is None:
            return None
        try:
            return ActiveBundle.model_validate_json(raw)
        except ValidationError as exc:
            raise ActiveBundleUnreadableError(f"{self.key} does not hold a bundle record") from exc

    async def publish(self, path: Path, version: str) -> ActiveBundle:
        """Record ``path`` as the bundle every worker should serve; last writer wins."""
        record = ActiveBundle(id=uuid.uuid4().hex, path=str(path), version=version)
        await timed_call(
            self._metrics,
            "bundle_publish",
            self._client.set(self.key, record.model_dump_json()),
            self._timeout,
        )
        return record
