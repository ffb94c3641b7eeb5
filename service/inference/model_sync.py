"""Keep every worker and replica on the bundle that the last /admin/reload chose.

A reload reaches one worker. That worker records the bundle in Redis
(``ActiveBundleStore``); every worker polls the record and loads what it names, so after
one interval the whole fleet answers from the same model. A worker that starts later loads
the recorded bundle instead of ``PAAREC_BUNDLE_PATH``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from service.core.config import Settings
from service.core.metrics import Metrics
from service.inference.recommender import LoadedModel, Recommender, ReloadError
from service.storage.active_bundle import (
    ActiveBundle,
    ActiveBundleStore,
    ActiveBundleUnreadableError,
)
from service.storage.redis_client import StorageUnavailableError

logger = logging.getLogger(__name__)

# Record ids are uuid4 hex; this marks "the key held junk, already logged".
_UNREADABLE = "unreadable"


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in ``root`` once symlinks and ``..`` are resolved."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, ValueError):  # a NUL byte, a symlink loop: not a usable path
        return False


class ReloadNotPublishedError(Exception):
    """The bundle is active on this worker, but Redis could not record it for the others."""


class ModelSync:
    """Publishes this worker's reloads and follows everyone else's."""

    def __init__(
        self,
        recommender: Recommender,
        store: ActiveBundleStore,
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self._recommender = recommender
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._interval_s = settings.model_sync_interval_s
        # One reload or sync at a time, so "the record I last acted on" matches what is loaded.
        self._lock = asyncio.Lock()
        self._seen_id: str | None = None
        self._redis_down = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._interval_s > 0

    async def start(self) -> LoadedModel:
        """Load the fleet's recorded bundle if there is a usable one, else PAAREC_BUNDLE_PATH,
        then start following."""
        model: LoadedModel | None = None
        if self.enabled:
            record = await self._read()
            if record is not None:
                model = await self._follow(record)
        if model is None:
            model = await self._recommender.load(self._settings.bundle_path)
        if self.enabled:
            self._task = asyncio.create_task(self._follow_forever(), name="model-sync")
        return model

    async def reload(self, path: Path) -> LoadedModel:
        """Load ``path`` here, then record it so that every other worker loads it too."""
        async with self._lock:
            model = await self._recommender.load(path)
            if self.enabled:
                try:
                    record = await self._store.publish(model.bundle.path, model.bundle.version)
                except StorageUnavailableError as exc:
                    raise ReloadNotPublishedError(str(exc)) from exc
                self._seen_id = record.id
            return model

    async def sync_once(self) -> None:
        """Load the recorded bundle if it is one this worker has not acted on yet."""
        async with self._lock:
            record = await self._read()
            if record is not None and record.id != self._seen_id:
                await self._follow(record)

    async def close(self) -> None:
        """Stop following; a sync in progress finishes first (Redis calls are bounded)."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _follow_forever(self) -> None:
        # Stopped by an event, not by cancelling: a cancel landing inside a Redis call can
        # surface as a connection error, which this loop would take for an outage and
        # keep polling.
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await self._stopping.wait()
            if self._stopping.is_set():
                return
            try:
                await self.sync_once()
            except Exception:  # a dead loop would silently stop following; log and go on
                logger.exception("model sync failed")

    async def _read(self) -> ActiveBundle | None:
        """The record, or None when there is none or it cannot be read (logged once)."""
        try:
            record = await self._store.read()
        except StorageUnavailableError as exc:
            if not self._redis_down:
                logger.warning("model sync cannot read redis", extra={"reason": str(exc)})
            self._redis_down = True
            return None
        except ActiveBundleUnreadableError as exc:
            if self._seen_id != _UNREADABLE:
                logger.error("model sync ignores the record", extra={"reason": str(exc)})
            self._seen_id = _UNREADABLE
            return None
        self._redis_down = False
        return record

    async def _follow(self, record: ActiveBundle) -> LoadedModel | None:
        """Load the recorded bundle once; a bad one is refused and not retried."""
        self._seen_id = record.id
        path = Path(record.path)
        root = self._settings.reload_root()
        if not _inside(path, root):
            self._metrics.model_syncs.labels("refused").inc()
            logger.error(
                "model sync refused a bundle outside PAAREC_BUNDLE_ROOT",
                extra={"path": record.path, "root": str(root)},
            )
            return None
        try:
            model = await self._recommender.load(path)
        except ReloadError as exc:
            self._metrics.model_syncs.labels("failed").inc()
            logger.error(
                "model sync could not load the recorded bundle",
                extra={"path": record.path, "reason": str(exc)},
            )
            return None
        self._metrics.model_syncs.labels("ok").inc()
        logger.info(
            "model sync loaded the bundle a reload recorded",
            extra={"path": record.path, "version": record.version},
        )
        return model
