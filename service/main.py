"""The FastAPI application factory and its lifespan (startup/shutdown of shared resources)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service.api.routes import admin, events, health, model, recommend, users
from service.core.config import Settings, get_settings
from service.core.errors import install_error_handlers
from service.core.logging import configure_logging
from service.core.metrics import Metrics
from service.core.middleware import RequestContextMiddleware
from service.inference.model_sync import ModelSync
from service.inference.recommender import Recommender
from service.storage.active_bundle import ActiveBundleStore
from service.storage.history import HistoryStore
from service.storage.redis_client import create_redis

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` defaults to the ``PAAREC_*`` environment."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_redis(settings)
        recommender = Recommender(settings, metrics)
        model_sync = ModelSync(
            recommender,
            ActiveBundleStore(
                redis.client,
                metrics,
                prefix=settings.redis_key_prefix,
                op_timeout_s=settings.redis_op_timeout_s,
            ),
            settings,
            metrics,
        )
        try:
            current = await model_sync.start()
            logger.info(
                "startup",
                extra={
                    "model_version": current.bundle.version,
                    "provider": current.session.active_provider,
                    "redis_cluster": settings.redis_cluster,
                    "model_sync": model_sync.enabled,
                },
            )
            app.state.recommender = recommender
            app.state.model_sync = model_sync
            app.state.store = HistoryStore(
                redis.client,
                metrics,
                prefix=settings.redis_key_prefix,
                max_len=settings.history_max_len,
                ttl_s=settings.history_ttl_s,
                event_ttl_s=settings.event_id_ttl_s,
                op_timeout_s=settings.redis_op_timeout_s,
            )
            yield
        finally:
            # uvicorn has already let in-flight requests finish; drain queued inference too.
            await model_sync.close()
            await recommender.close()
            await redis.aclose()
            metrics.close()
            logger.info("shutdown complete")

    app = FastAPI(title="paarec", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
        )
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    for router in (
        health.router,
        recommend.router,
        events.router,
        users.router,
        model.router,
        admin.router,
    ):
        app.include_router(router)
    return app
