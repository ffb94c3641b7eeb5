"""Prometheus metrics, one registry per app so several apps can live in one process.

Under several uvicorn workers a scrape reaches one worker at random, so ``paarec-serve`` then
sets ``PROMETHEUS_MULTIPROC_DIR``: every worker writes its values to files there and any
worker's ``/metrics`` reports the sum over all of them (prometheus_client multiprocess mode).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> None:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at a folder without old values before the workers
    start.

    From a folder given in the environment only the metric files (``*.db``) are removed, since
    values left by an earlier run would be added to this one's; otherwise a fresh temporary
    folder is made.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="paarec-metrics-")


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """All service metrics; routes, stores and the batcher record into it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_latency = Histogram(
            "paarec_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_latency = Histogram(
            "paarec_inference_duration_seconds",
            "Wall time of one ONNX Runtime run (one micro-batch).",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "paarec_inference_batch_size",
            "Requests coalesced into one ONNX Runtime run.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "paarec_inference_queue_wait_seconds",
            "Time a request spent queued before its micro-batch ran, batching window included; "
            "the part of the latency that more replicas or a shorter window would remove.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_rejections = Counter(
            "paarec_inference_queue_rejections_total",
            "Requests refused because the inference queue was full.",
            registry=r,
        )
        self.redis_latency = Histogram(
            "paarec_redis_duration_seconds",
            "Latency of Redis operations.",
            ["op"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.redis_errors = Counter(
            "paarec_redis_errors_total", "Failed Redis operations.", ["op"], registry=r
        )
        self.fallbacks = Counter(
            "paarec_fallbacks_total", "Answers served by a fallback.", ["kind"], registry=r
        )
        self.model_info = Gauge(
            "paarec_model_info",
            "Model version and execution provider: 1 while active, 0 once replaced by a reload. "
            "Several workers report one series each (label pid).",
            ["version", "provider"],
            registry=r,
            multiprocess_mode="liveall",
        )
        self._model_labels: set[tuple[str, str]] = set()
        self.reloads = Counter(
            "paarec_model_reloads_total", "Bundle reload attempts.", ["result"], registry=r
        )
        self.model_syncs = Counter(
            "paarec_model_syncs_total",
            "Bundles this worker loaded because another worker or replica reloaded.",
            ["result"],
            registry=r,
        )

    def set_active_model(self, version: str, provider: str) -> None:
        """Make (version, provider) the one series at 1. Earlier ones go to 0 rather than
        away, because multiprocess files cannot forget a series."""
        for old_version, old_provider in self._model_labels:
            self.model_info.labels(version=old_version, provider=old_provider).set(0)
        self.model_info.labels(version=version, provider=provider).set(1)
        self._model_labels.add((version, provider))

    def render(self) -> bytes:
        """The text exposition format, summed over all workers in multiprocess mode."""
        if not multiprocess_mode():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)

    def close(self) -> None:
        """Drop this worker's live gauges from the multiprocess files when it exits."""
        if multiprocess_mode():
            mark_process_dead(os.getpid())
