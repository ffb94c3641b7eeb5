"""A real uvicorn server over TCP, and the no-torch import guarantee."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from service.main import create_app
from tests.service.conftest import ADMIN_KEY, build_bundle, make_settings
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


def _counter_sum(text: str, name: str, label: str) -> float:
    """Sum a metric's samples that carry ``label`` (one per worker in multiprocess mode)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and label in line
    )


@contextmanager
def two_workers(
    bundle: Path, redis_server: RedisServer, tmp_path: Path, **env_overrides: str
) -> Iterator[str]:
    """``python -m service`` with two uvicorn workers, ready; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "PAAREC_BUNDLE_PATH": str(bundle),
        "PAAREC_REDIS_URL": redis_server.url,
        "PAAREC_REDIS_KEY_PREFIX": f"workers{port}",
        "PAAREC_PORT": str(port),
        "PAAREC_WORKERS": "2",
        "PAAREC_LOG_LEVEL": "WARNING",
        **env_overrides,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "service"], env=env, cwd=tmp_path, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "paarec-serve did not become ready"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_two_workers_report_metrics_summed_over_both(
    bundle_dir: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    with two_workers(
        bundle_dir, redis_server, tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    ) as base:
        requests = 24
        for i in range(requests):  # a new connection each time, so both workers get some
            resp = httpx.post(f"{base}/recommend", json={"user_id": f"w{i}", "history": ["item1"]})
            assert resp.status_code == 200
        for _ in range(4):
            text = httpx.get(f"{base}/metrics").text
            served = _counter_sum(
                text, "paarec_http_request_duration_seconds_count", 'route="/recommend"'
            )
            assert served == requests
            assert text.count("paarec_model_info{") == 2  # one live series per worker (pid)


def test_a_reload_reaches_both_workers(redis_server: RedisServer, tmp_path: Path) -> None:
    """The reload lands on one worker; the other follows through the Redis record."""
    v1 = build_bundle(tmp_path / "bundles" / "v1")
    v2 = build_bundle(tmp_path / "bundles" / "v2", version="fake-2", seed=7)
    with two_workers(
        v1,
        redis_server,
        tmp_path,
        PAAREC_ADMIN_API_KEY=ADMIN_KEY,
        PAAREC_MODEL_SYNC_INTERVAL_S="0.1",
    ) as base:
        resp = httpx.post(
            f"{base}/admin/reload", json={"path": str(v2)}, headers={"X-API-Key": ADMIN_KEY}
        )
        assert resp.status_code == 200, resp.text
        deadline = time.monotonic() + 30
        while True:
            text = httpx.get(f"{base}/metrics").text
            # The sync count goes up once the follower's load has finished, after the swap.
            if _counter_sum(text, "paarec_model_syncs_total", 'result="ok"') == 1:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.1)
        assert _counter_sum(text, "paarec_model_info", 'version="fake-2"') == 2
        assert _counter_sum(text, "paarec_model_info", 'version="fake-1"') == 0
