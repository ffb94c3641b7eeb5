"""POST /admin/reload: verified, warmed-up, atomic model swap of a bundle under the root."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Depends
from pydantic import Field

from service.api.deps import MetricsDep, RecommenderDep, SettingsDep, require_admin_key
from service.api.routes.model import ModelPublic, model_public
from service.core.errors import ApiError
from service.inference.recommender import ReloadError
from service.schemas.common import StrictModel

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])


class ReloadRequest(StrictModel):
    path: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="Bundle folder inside PAAREC_BUNDLE_ROOT; default PAAREC_BUNDLE_PATH.",
    )


class ReloadResult(StrictModel):
    previous_version: str | None
    model: ModelPublic


@router.post("/reload", response_model=ReloadResult)
async def reload_model(
    settings: SettingsDep,
    recommender: RecommenderDep,
    metrics: MetricsDep,
    body: ReloadRequest | None = None,
) -> ReloadResult:
    """Load, verify (sha256), warm up, then swap; on failure the old model keeps serving."""
    requested = Path(body.path) if body is not None and body.path else None
    path = requested or settings.bundle_path
    previous = recommender.current.bundle.version if recommender.current else None
    root = settings.reload_root()
    if requested is not None and not requested.resolve().is_relative_to(root):
        metrics.reloads.labels("failed").inc()
        raise ApiError(
            403,
            "reload_forbidden",
            f"bundle path is outside PAAREC_BUNDLE_ROOT ({root}), still serving {previous}",
            [("path", "outside PAAREC_BUNDLE_ROOT")],
        )
    try:
        model = await recommender.load(path)
    except ReloadError as exc:
        metrics.reloads.labels("failed").inc()
        logger.warning("reload refused", extra={"path": str(path), "reason": str(exc)})
        raise ApiError(
            422,
            "reload_failed",
            f"bundle rejected, still serving {previous}: {exc}",
            [("path", str(exc))],
        ) from exc
    metrics.reloads.labels("ok").inc()
    return ReloadResult(previous_version=previous, model=model_public(model))
