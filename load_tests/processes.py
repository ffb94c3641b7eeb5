"""Start a throwaway redis-server and a real uvicorn service as child processes (free ports).

Used by the load-test runner (``--bundle``), its smoke test and the serving benchmark; never
touches a Redis that it did not start.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers 200; raise if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as resp:
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """A memory-only redis-server on a free port; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found on PATH")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="paarec-redis-") as data:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", data]  # fmt: skip
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                        conn.sendall(b"PING\r\n")
                        if conn.recv(64).startswith(b"+PONG"):
                            break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(proc)


@contextlib.contextmanager
def service_process(
    bundle: Path,
    redis_url: str,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    prefix: str = "paarec",
    log: Path | None = None,
) -> Iterator[str]:
    """``python -m service`` (uvicorn, 1 worker) on a free port; yields its base URL."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "PAAREC_BUNDLE_PATH": str(bundle),
        "PAAREC_REDIS_URL": redis_url,
        "PAAREC_REDIS_KEY_PREFIX": prefix,
        "PAAREC_PORT": str(port),
        "PAAREC_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    yield from _serve([sys.executable, "-m", "service"], full_env, port, "/readyz", log)


@contextlib.contextmanager
def python_server(
    args: Sequence[str], port: int, ready_path: str = "/docs", log: Path | None = None
) -> Iterator[str]:
    """Any ``python -m ...`` server that listens on ``port``; yields its base URL."""
    yield from _serve([sys.executable, *args], dict(os.environ), port, ready_path, log)


def _serve(
    cmd: list[str], env: dict[str, str], port: int, ready: str, log: Path | None
) -> Iterator[str]:
    sink = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=sink)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + ready, proc)
        yield base
    finally:
        _stop(proc)
        if log and not isinstance(sink, int):
            sink.close()
