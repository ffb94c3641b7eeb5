"""Request and response bodies of /recommend and /recommend/batch."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from service.core.config import Settings
from service.schemas.common import (
    ExternalId,
    FieldErrors,
    StrictModel,
    count_errors,
    id_errors,
)


class RecommendRequest(StrictModel):
    user_id: ExternalId
    k: int = Field(default=10, ge=1, le=10_000, description="1..bundle max_k")
    exclude_seen: bool = True
    exclude_items: list[ExternalId] | None = None
    history: list[ExternalId] | None = Field(
        None, description="Inline history (oldest first) used instead of the stored one."
    )

    def limit_errors(self, settings: Settings, prefix: str = "") -> FieldErrors:
        """Configurable limits, with field names prefixed for batch items."""
        errors = id_errors(f"{prefix}user_id", self.user_id, settings)
        errors += count_errors(
            f"{prefix}exclude_items", self.exclude_items, settings.max_exclude_items
        )
        errors += count_errors(f"{prefix}history", self.history, settings.max_inline_history)
        errors += id_errors(f"{prefix}exclude_items", self.exclude_items or [], settings)
        errors += id_errors(f"{prefix}history", self.history or [], settings)
        return errors


class RecommendBatchRequest(StrictModel):
    requests: list[RecommendRequest] = Field(min_length=1)


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    title: str | None = None

    @model_serializer(mode="wrap")
    def _drop_missing_title(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("title") is None:
            data.pop("title", None)
        return data


class RecommendResponse(BaseModel):
    user_id: str
    items: list[RecommendedItem]
    model_version: str
    history_length: int
    fallback: Literal["popular"] | None


class RecommendBatchResponse(BaseModel):
    results: list[RecommendResponse]
