"""POST /admin/reload: verified, warmed-up, atomic model swap of a bundle under the root,
recorded in Redis so that every worker and replica follows."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, Depends
from pydantic import Field

from service.api.deps import (
    MetricsDep,
    ModelSyncDep,
    RecommenderDep,
    SettingsDep,
    require_admin_key,
)
from service.api.routes.model import ModelPublic, model_public
from service.core.errors import ApiError
from service.inference.model_sync import ReloadNotPublishedError
from service.inference.recommender import ReloadError
from service.schemas.common import StrictModel
from service.schemas.errors import error_responses

logger = logging.getLogger(__name__)
router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(require_admin_key)],
    responses=error_responses(400, 401, 403, 413, 422, 503),
)


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


def _require_inside(path: Path, root: Path, serving: str | None) -> None:
    """Refuse a bundle outside the root, symlinks and ``..`` resolved first."""
    try:
        inside = path.resolve().is_relative_to(root)
    except (OSError, ValueError) as exc:  # a NUL byte, a symlink loop: not a usable path
        raise ApiError(
            422,
            "reload_failed",
            f"bundle folder path is not usable, still serving {serving}",
            [("path", f"not a usable path: {exc.__class__.__name__}")],
        ) from exc
    if not inside:
        raise ApiError(
            403,
            "reload_forbidden",
            f"bundle path is outside PAAREC_BUNDLE_ROOT ({root}), still serving {serving}",
            [("path", "outside PAAREC_BUNDLE_ROOT")],
        )


@router.post("/reload", response_model=ReloadResult)
async def reload_model(
    settings: SettingsDep,
    recommender: RecommenderDep,
    model_sync: ModelSyncDep,
    metrics: MetricsDep,
    body: ReloadRequest | None = None,
) -> ReloadResult:
    """Load, verify (sha256), warm up, then swap; on failure the old model keeps serving.

    Then record the bundle in Redis: the other workers and replicas load it within
    PAAREC_MODEL_SYNC_INTERVAL_S. If Redis cannot take the record, the answer is 503 even
    though this worker has switched, because the fleet has not; retrying is safe."""
    requested = Path(body.path) if body is not None and body.path else None
    path = requested or settings.bundle_path
    previous = recommender.current.bundle.version if recommender.current else None
    if requested is not None:
        try:
            _require_inside(requested, settings.reload_root(), previous)
        except ApiError:
            metrics.reloads.labels("failed").inc()
            raise
    try:
        model = await model_sync.reload(path)
    except ReloadNotPublishedError as exc:
        metrics.reloads.labels("unpublished").inc()
        logger.warning("reload not published", extra={"path": str(path), "reason": str(exc)})
        raise ApiError(
            503,
            "reload_not_published",
            f"bundle active on this worker only: redis could not record it for the other "
            f"workers ({exc}); retry the reload",
            headers={"Retry-After": "1"},
        ) from exc
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
