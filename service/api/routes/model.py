"""GET /model: active bundle metadata and execution providers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from service.api.deps import RecommenderDep, require_api_key
from service.inference.recommender import LoadedModel
from service.schemas.errors import error_responses

router = APIRouter(
    prefix="/model",
    tags=["model"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(401, 422, 503),
)


class ModelPublic(BaseModel):
    name: str
    version: str
    path: str
    n_items: int
    max_len: int
    max_k: int
    has_titles: bool
    providers: list[str]
    requested_providers: list[str]
    loaded_at: datetime
    bundle: dict[str, Any]


def model_public(model: LoadedModel) -> ModelPublic:
    b = model.bundle
    return ModelPublic(
        name=b.name,
        version=b.version,
        path=str(b.path),
        n_items=b.n_items,
        max_len=b.max_len,
        max_k=b.max_k,
        has_titles=b.titles is not None,
        providers=model.session.providers,
        requested_providers=model.session.requested_providers,
        loaded_at=datetime.fromtimestamp(model.loaded_at, UTC),
        bundle=b.meta,
    )


@router.get("", response_model=ModelPublic)
async def read_model(recommender: RecommenderDep) -> ModelPublic:
    """Bundle metadata and the providers ONNX Runtime actually uses."""
    return model_public(recommender.require_model())
