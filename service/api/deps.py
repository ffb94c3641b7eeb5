"""Dependencies as ``Annotated`` aliases that routes take as typed parameters.

They are all ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool, which
cost a thread hop per dependency on every request.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from service.core.config import Settings
from service.core.errors import ApiError
from service.core.metrics import Metrics
from service.inference.model_sync import ModelSync
from service.inference.recommender import Recommender
from service.schemas.common import HARD_MAX_ID_LENGTH, ID_PATTERN, id_errors, raise_if
from service.storage.history import HistoryStore
from service.storage.redis_client import StorageUnavailableError


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_store(request: Request) -> HistoryStore:
    store: HistoryStore = request.app.state.store
    return store


async def get_recommender(request: Request) -> Recommender:
    recommender: Recommender = request.app.state.recommender
    return recommender


async def get_model_sync(request: Request) -> ModelSync:
    model_sync: ModelSync = request.app.state.model_sync
    return model_sync


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
StoreDep = Annotated[HistoryStore, Depends(get_store)]
RecommenderDep = Annotated[Recommender, Depends(get_recommender)]
ModelSyncDep = Annotated[ModelSync, Depends(get_model_sync)]
ApiKeyHeader = Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)]


def _matches(given: str | None, expected: list[str]) -> bool:
    # compare_digest against every key so timing does not reveal which one nearly matched
    ok = False
    for key in expected:
        ok |= given is not None and secrets.compare_digest(given.encode(), key.encode())
    return ok


async def require_api_key(settings: SettingsDep, x_api_key: ApiKeyHeader = None) -> None:
    """When PAAREC_API_KEYS is set, the X-API-Key header must hold one of them."""
    keys = settings.api_key_values()
    if keys and not _matches(x_api_key, keys):
        raise ApiError(
            401,
            "unauthorized",
            "missing or invalid X-API-Key header",
            [("X-API-Key", "missing" if x_api_key is None else "invalid")],
        )


async def require_admin_key(settings: SettingsDep, x_api_key: ApiKeyHeader = None) -> None:
    """Admin routes need PAAREC_ADMIN_API_KEY; without one configured they are disabled."""
    if settings.admin_api_key is None:
        raise ApiError(
            403,
            "admin_disabled",
            "admin endpoints are disabled: PAAREC_ADMIN_API_KEY is not configured",
        )
    if not _matches(x_api_key, [settings.admin_api_key.get_secret_value()]):
        raise ApiError(
            401,
            "unauthorized",
            "missing or invalid admin X-API-Key header",
            [("X-API-Key", "missing" if x_api_key is None else "invalid")],
        )


async def valid_user_id(
    settings: SettingsDep,
    user_id: Annotated[str, Path(min_length=1, max_length=HARD_MAX_ID_LENGTH, pattern=ID_PATTERN)],
) -> str:
    raise_if(id_errors("user_id", user_id, settings))
    return user_id


UserIdPath = Annotated[str, Depends(valid_user_id)]


def storage_error(exc: StorageUnavailableError) -> ApiError:
    """The 503 answered when Redis is down or slow."""
    return ApiError(
        503,
        "storage_unavailable",
        f"history store unavailable: {exc}",
        headers={"Retry-After": "1"},
    )
