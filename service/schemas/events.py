"""Bodies of /events and /users/{user_id}/history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from service.core.config import Settings
from service.schemas.common import (
    ID_PATTERN,
    ExternalId,
    FieldErrors,
    StrictModel,
    count_errors,
    id_errors,
)

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]


class EventCreate(StrictModel):
    user_id: ExternalId
    item_id: ExternalId | None = None
    items: list[ExternalId] | None = Field(default=None, min_length=1, description="Oldest first.")
    timestamp: datetime | None = Field(
        default=None, strict=False, description="ISO 8601 or epoch seconds."
    )
    event_id: EventId | None = Field(default=None, description="Idempotency key.")

    def item_list(self) -> list[str]:
        return [self.item_id] if self.item_id is not None else list(self.items or [])

    def limit_errors(self, settings: Settings) -> FieldErrors:
        if (self.item_id is None) == (self.items is None):
            return [("item_id", "exactly one of item_id or items is required")]
        errors = id_errors("user_id", self.user_id, settings)
        errors += id_errors("item_id", self.item_id, settings) if self.item_id else []
        errors += count_errors("items", self.items, settings.max_items_per_event)
        errors += id_errors("items", self.items or [], settings)
        return errors


class EventAccepted(BaseModel):
    user_id: str
    accepted: int = Field(description="Items appended; 0 for a repeated event_id.")
    duplicate: bool
    history_length: int


class HistoryPublic(BaseModel):
    user_id: str
    items: list[str]
    length: int


class HistoryDeleted(BaseModel):
    user_id: str
    deleted: bool
