"""GET and DELETE /users/{user_id}/history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from service.api.deps import StoreDep, UserIdPath, require_api_key, storage_error
from service.schemas.errors import error_responses
from service.schemas.events import HistoryDeleted, HistoryPublic
from service.storage.redis_client import StorageUnavailableError

router = APIRouter(
    prefix="/users",
    tags=["users"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(401, 422, 503),
)

# The largest history cap PAAREC_HISTORY_MAX_LEN accepts; a larger limit can never matter, and
# an unbounded one would reach Redis as an out-of-range LRANGE index.
LIMIT_MAX = 100_000


@router.get("/{user_id}/history", response_model=HistoryPublic)
async def read_history(
    user_id: UserIdPath,
    store: StoreDep,
    limit: Annotated[int | None, Query(ge=1, le=LIMIT_MAX)] = None,
) -> HistoryPublic:
    """The stored history, oldest first (optionally only the newest ``limit``)."""
    try:
        items = await store.get(user_id, limit)
    except StorageUnavailableError as exc:
        raise storage_error(exc) from exc
    return HistoryPublic(user_id=user_id, items=items, length=len(items))


@router.delete("/{user_id}/history", response_model=HistoryDeleted)
async def delete_history(user_id: UserIdPath, store: StoreDep) -> HistoryDeleted:
    """Erase the user's history."""
    try:
        deleted = await store.delete(user_id)
    except StorageUnavailableError as exc:
        raise storage_error(exc) from exc
    return HistoryDeleted(user_id=user_id, deleted=deleted)
