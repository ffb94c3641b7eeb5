"""A real uvicorn server over TCP, and the no-torch import guarantee."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from service.main import create_app
from tests.service.conftest import make_settings
from tests.service.redis_server import RedisServer, free_port


@pytest.fixture
def live_server(bundle_dir: Path, redis_server: RedisServer) -> Iterator[str]:
    port = free_port()
    app = create_app(make_settings(bundle_dir, redis_server.url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during startup"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True  # graceful: in-flight requests finish, lifespan closes Redis
    thread.join(timeout=20)
    assert not thread.is_alive()


def test_real_server_round_trip(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as client:
        assert client.get("/readyz").status_code == 200
        resp = client.post(
            "/events",
            json={"user_id": "tcp", "items": ["item2", "item3"]},
            headers={"X-Request-ID": "req-1"},
        )
        assert resp.status_code == 200
        assert resp.headers["x-request-id"] == "req-1"
        rec = client.post("/recommend", json={"user_id": "tcp", "k": 3}).json()
        assert rec["history_length"] == 2
        assert len(rec["items"]) == 3
        bad = client.post("/recommend", content=b"{", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400


def test_service_never_imports_torch() -> None:
    code = (
        "import sys, service.main, service.__main__; assert 'torch' not in sys.modules; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
