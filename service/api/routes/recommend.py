"""POST /recommend and /recommend/batch."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from service.api.deps import (
    RecommenderDep,
    SettingsDep,
    StoreDep,
    require_api_key,
    storage_error,
)
from service.inference.recommender import Recommendation, Recommender
from service.schemas.common import count_errors, raise_if
from service.schemas.errors import error_responses
from service.schemas.recommend import (
    RecommendBatchRequest,
    RecommendBatchResponse,
    RecommendRequest,
    RecommendResponse,
)
from service.storage.redis_client import StorageUnavailableError

router = APIRouter(
    prefix="/recommend",
    tags=["recommend"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(400, 401, 413, 422, 503),
)


def _public(user_id: str, rec: Recommendation) -> dict[str, Any]:
    """The RecommendResponse as plain data: the hot path skips re-validating what the service
    itself produced and renders it with orjson (the schema stays the documented model)."""
    return {
        "user_id": user_id,
        "items": [
            {"item_id": i.item_id, "score": i.score}
            if i.title is None
            else {"item_id": i.item_id, "score": i.score, "title": i.title}
            for i in rec.items
        ],
        "model_version": rec.model_version,
        "history_length": rec.history_length,
        "fallback": "popular" if rec.fallback == "popular" else None,
    }


def _json(payload: dict[str, Any]) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


async def _one(
    recommender: Recommender, req: RecommendRequest, history: list[str]
) -> dict[str, Any]:
    rec = await recommender.recommend(history, req.k, req.exclude_seen, req.exclude_items or [])
    return _public(req.user_id, rec)


@router.post("", response_model=RecommendResponse)
async def recommend(
    body: RecommendRequest, settings: SettingsDep, store: StoreDep, recommender: RecommenderDep
) -> Response:
    """Top-k next items for a user (stored history) or an inline session history."""
    raise_if(body.limit_errors(settings))
    if body.history is not None:
        history = body.history
    else:
        try:
            history = await store.get(body.user_id)
        except StorageUnavailableError as exc:
            raise storage_error(exc) from exc
    return _json(await _one(recommender, body, history))


@router.post("/batch", response_model=RecommendBatchResponse)
async def recommend_batch(
    body: RecommendBatchRequest,
    settings: SettingsDep,
    store: StoreDep,
    recommender: RecommenderDep,
) -> Response:
    """Many recommendations in one call; stored histories are read in one pipelined trip."""
    errors = count_errors("requests", body.requests, settings.max_batch_requests)
    max_k = recommender.require_model().bundle.max_k
    for i, req in enumerate(body.requests):
        errors += req.limit_errors(settings, prefix=f"requests[{i}].")
        if req.k > max_k:
            errors.append((f"requests[{i}].k", f"must be <= {max_k}"))
    raise_if(errors)
    stored_for = [r.user_id for r in body.requests if r.history is None]
    try:
        stored = iter(await store.get_many(stored_for) if stored_for else [])
    except StorageUnavailableError as exc:
        raise storage_error(exc) from exc
    histories = [r.history if r.history is not None else next(stored) for r in body.requests]
    results = await asyncio.gather(
        *(_one(recommender, r, h) for r, h in zip(body.requests, histories, strict=True))
    )
    return _json({"results": list(results)})
