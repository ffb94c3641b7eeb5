"""POST /events: append interactions to a user's history."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends

from service.api.deps import SettingsDep, StoreDep, require_api_key, storage_error
from service.schemas.common import raise_if
from service.schemas.errors import error_responses
from service.schemas.events import EventAccepted, EventCreate
from service.storage.redis_client import StorageUnavailableError

logger = logging.getLogger(__name__)
router = APIRouter(
    prefix="/events",
    tags=["events"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(400, 401, 413, 422, 503),
)


@router.post("", response_model=EventAccepted)
async def append_events(body: EventCreate, settings: SettingsDep, store: StoreDep) -> EventAccepted:
    """Append one or many items; answers only after Redis accepted the write."""
    raise_if(body.limit_errors(settings))
    items = body.item_list()
    try:
        result = await store.append(body.user_id, items, body.event_id)
    except StorageUnavailableError as exc:
        raise storage_error(exc) from exc
    logger.debug(
        "events appended",
        extra={"n_items": len(items), "stored": result.stored, "event_time": body.timestamp},
    )
    return EventAccepted(
        user_id=body.user_id,
        accepted=len(items) if result.stored else 0,
        duplicate=not result.stored,
        history_length=result.length,
    )
