"""``paarec-serve`` / ``python -m service``: run the API under uvicorn."""

from __future__ import annotations

import uvicorn

from service.core.config import get_settings
from service.core.logging import configure_logging
from service.core.metrics import prepare_multiprocess_dir


def main() -> None:
    """Start uvicorn with host, port and workers from the ``PAAREC_*`` settings; several
    workers share their metrics through a multiprocess folder."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.workers > 1:
        prepare_multiprocess_dir()
    uvicorn.run(
        "service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )


if __name__ == "__main__":
    main()
