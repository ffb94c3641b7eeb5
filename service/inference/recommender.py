"""History -> indices -> batched inference -> response items, or the popular fallback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.core.config import Settings
from service.core.errors import ApiError
from service.core.metrics import Metrics
from service.inference.batcher import (
    BatcherClosedError,
    InferenceError,
    MicroBatcher,
    OverloadedError,
    default_buckets,
)
from service.inference.bundle import Bundle, BundleError, load_bundle
from service.inference.session import OnnxSession, SessionConfig

logger = logging.getLogger(__name__)


class ReloadError(Exception):
    """A new bundle could not be loaded, verified or warmed up; the old one stays."""


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float
    title: str | None


@dataclass(frozen=True)
class Recommendation:
    items: list[ScoredItem]
    model_version: str
    history_length: int
    fallback: str | None


@dataclass
class LoadedModel:
    """A bundle, its session and its batcher; swapped as one unit."""

    bundle: Bundle
    session: OnnxSession
    batcher: MicroBatcher
    loaded_at: float


class Recommender:
    """Owns the active model and turns histories into ranked items."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        # One thread: ORT parallelises inside a run; batches queue up behind it (more batching).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ort")
        self._reload_lock = asyncio.Lock()
        self.current: LoadedModel | None = None

    def _session_config(self, bundle: Bundle) -> SessionConfig:
        s = self.settings
        return SessionConfig(
            s.provider_preference,
            s.ort_intra_op_threads,
            s.ort_inter_op_threads,
            s.ort_allow_spinning,
            s.ort_graph_optimization,
            s.ort_enable_mem_pattern,
            cuda_device_id=s.ort_cuda_device_id,
            cuda_graphs=s.ort_cuda_graphs,
            graph_batch=s.batch_max_size,
            graph_buckets=tuple(default_buckets(bundle.max_len, s.length_buckets)),
            graph_k=bundle.max_k,
        )

    def _load_sync(self, path: Path) -> tuple[Bundle, OnnxSession]:
        """Load, verify and warm up a bundle (blocking; runs in a worker thread)."""
        try:
            bundle = load_bundle(path)
        except BundleError as exc:
            raise ReloadError(str(exc)) from exc
        try:
            session = OnnxSession(bundle.onnx_path, self._session_config(bundle))
            top = bundle.popular_order[: min(bundle.max_len, len(bundle.popular_order))]
            scores, items = session.run(
                top[None, :].astype(np.int64), 1, np.array([True]), np.zeros((1, 1), np.int64)
            )
        except Exception as exc:  # ORT raises many types for a bad graph
            raise ReloadError(f"model failed to load or warm up: {exc}") from exc
        if scores.shape != (1, 1) or items.shape != (1, 1):
            raise ReloadError(f"warm-up returned shapes {scores.shape}/{items.shape}, want (1, 1)")
        if not 0 < int(items[0, 0]) <= bundle.n_items:
            raise ReloadError(f"warm-up returned item index {int(items[0, 0])} outside vocabulary")
        return bundle, session

    def _on_batch(self, size: int, seconds: float, queue_waits: list[float]) -> None:
        self.metrics.batch_size.observe(size)
        self.metrics.inference_latency.observe(seconds)
        for wait in queue_waits:
            self.metrics.queue_wait.observe(wait)

    async def load(self, path: Path) -> LoadedModel:
        """Load, verify, warm up and activate a bundle; the previous one is drained and dropped."""
        async with self._reload_lock:
            bundle, session = await asyncio.to_thread(self._load_sync, path)
            s = self.settings
            batcher = MicroBatcher(
                session.run,
                self._executor,
                max_len=bundle.max_len,
                max_batch=s.batch_max_size,
                max_wait_us=s.batch_max_wait_us,
                queue_size=s.batch_queue_size,
                buckets=s.length_buckets,
                on_batch=self._on_batch,
            )
            batcher.start()
            model = LoadedModel(bundle, session, batcher, time.time())
            previous, self.current = self.current, model  # atomic swap on the event loop
            self.metrics.set_active_model(bundle.version, session.active_provider)
            logger.info(
                "model active",
                extra={
                    "version": bundle.version,
                    "path": str(path),
                    "providers": session.providers,
                },
            )
            if previous is not None:
                await previous.batcher.close()
            return model

    async def close(self) -> None:
        """Drain the batcher and stop the inference thread."""
        if self.current is not None:
            await self.current.batcher.close()
        self._executor.shutdown(wait=True)

    def require_model(self) -> LoadedModel:
        if self.current is None:
            raise ApiError(503, "model_not_loaded", "no model is loaded")
        return self.current

    async def recommend(
        self, history: Sequence[str], k: int, exclude_seen: bool, exclude_items: Sequence[str]
    ) -> Recommendation:
        """Rank items for one history of external ids (oldest first)."""
        model = self.require_model()
        bundle = model.bundle
        if k > bundle.max_k:
            raise ApiError(
                422,
                "validation_error",
                "request failed validation",
                [("k", f"must be <= {bundle.max_k} for model {bundle.version}")],
            )
        indices = bundle.encode(history)[-bundle.max_len :]
        excluded = np.array(sorted(set(bundle.encode(exclude_items))), dtype=np.int64)
        if not indices:
            return self._popular(bundle, k, excluded)
        # No await between reading self.current and submit: a reload cannot split the two.
        try:
            future = model.batcher.submit(
                np.array(indices, dtype=np.int64), k, exclude_seen, excluded
            )
        except OverloadedError:
            self.metrics.queue_rejections.inc()
            raise ApiError(
                503,
                "overloaded",
                "inference queue is full, retry later",
                headers={"Retry-After": "1"},
            ) from None
        except BatcherClosedError:
            raise ApiError(503, "shutting_down", "service is shutting down") from None
        try:
            scores, items = await asyncio.wait_for(future, self.settings.inference_timeout_s)
        except TimeoutError:
            raise ApiError(503, "inference_timeout", "inference did not finish in time") from None
        except InferenceError as exc:
            raise ApiError(503, "inference_failed", f"inference failed: {exc}") from None
        ranked = [
            ScoredItem(bundle.item_id(int(i)), float(s), bundle.title(int(i)))
            for s, i in zip(scores.tolist(), items.tolist(), strict=True)
            if s != float("-inf") and 0 < i <= bundle.n_items
        ]
        return Recommendation(ranked, bundle.version, len(indices), None)

    def _popular(self, bundle: Bundle, k: int, excluded: np.ndarray) -> Recommendation:
        self.metrics.fallbacks.labels("popular").inc()
        order = bundle.popular_order
        if excluded.size:
            order = order[~np.isin(order, excluded)]
        ranked = [
            ScoredItem(bundle.item_id(int(i)), float(bundle.popularity[i]), bundle.title(int(i)))
            for i in order[:k].tolist()
        ]
        return Recommendation(ranked, bundle.version, 0, "popular")
