"""Liveness, readiness and Prometheus metrics (no API key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from service.api.deps import MetricsDep, RecommenderDep, StoreDep
from service.core.errors import ApiError
from service.schemas.errors import error_responses
from service.storage.redis_client import StorageUnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(503))
async def readyz(recommender: RecommenderDep, store: StoreDep) -> dict[str, Any]:
    """Ready when a warmed-up model is active and Redis answers; else 503 with the reason."""
    if recommender.current is None:
        raise ApiError(503, "not_ready", "model not loaded")
    try:
        await store.ping()
    except StorageUnavailableError as exc:
        raise ApiError(503, "not_ready", f"redis not answering: {exc}") from exc
    return {"status": "ready", "model_version": recommender.current.bundle.version, "redis": "ok"}


@router.get("/metrics", include_in_schema=False)
async def metrics(m: MetricsDep) -> Response:
    """Prometheus text exposition."""
    return Response(m.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
