"""Prometheus metrics, one registry per app so several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
            "Active model version and execution provider (value 1).",
            ["version", "provider"],
            registry=r,
        )
        self.reloads = Counter(
            "paarec_model_reloads_total", "Bundle reload attempts.", ["result"], registry=r
        )

    def set_active_model(self, version: str, provider: str) -> None:
        """Make (version, provider) the only series of ``paarec_model_info``."""
        self.model_info.clear()
        self.model_info.labels(version=version, provider=provider).set(1)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
