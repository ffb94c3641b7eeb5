"""Start and stop a throwaway 3-master Redis Cluster on free local ports.

Each node gets its own data folder, a free client port and an explicit free cluster-bus port
(``--cluster-port``, Redis >= 7), so nothing depends on ``port + 10000`` being free or valid.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

N_MASTERS = 3
TOTAL_SLOTS = 16384


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (all sockets held open together, so none repeats)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found on PATH: install Redis >= 7 (e.g. `apt-get install "
            "redis-server`) to run the Redis Cluster tests",
            pytrace=False,
        )
    return path


class LocalRedisCluster:
    """Three cluster-enabled redis-server processes joined with ``redis-cli --cluster create``."""

    def __init__(self, root: Path, masters: int = N_MASTERS) -> None:
        self.server = _binary("redis-server")
        self.cli = _binary("redis-cli")
        self.root = root
        ports = free_ports(2 * masters)
        self.ports = ports[:masters]
        self.bus_ports = ports[masters:]
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """A startup node; the cluster client discovers the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.ports]

    def _redis_cli(self, port: int, *args: str, timeout: float = 10.0) -> str:
        result = subprocess.run(
            [self.cli, "-h", "127.0.0.1", "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"redis-cli {' '.join(args)} failed: {result.stderr or result.stdout}"
            )
        return result.stdout

    def _start_node(self, port: int, bus_port: int) -> subprocess.Popen[bytes]:
        folder = self.root / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        args = [
            self.server, "--port", str(port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-port", str(bus_port),
            "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", "2000",
            "--appendonly", "no", "--save", "", "--dir", str(folder), "--daemonize", "no",
        ]  # fmt: skip
        log = (folder / "redis.log").open("wb")
        try:
            return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()  # the child keeps its own descriptor

    def _wait_for_ping(self, port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if proc.poll() is not None:
                log = (self.root / str(port) / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server on {port} exited: {log[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {port}")

    def start(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        try:
            for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
                self.procs.append(self._start_node(port, bus_port))
            for port, proc in zip(self.ports, self.procs, strict=True):
                self._wait_for_ping(port, proc, deadline)
            self._redis_cli(
                self.ports[0],
                "--cluster", "create", *self.addresses,
                "--cluster-replicas", "0", "--cluster-yes",
                timeout=max(deadline - time.monotonic(), 1.0),
            )  # fmt: skip
            self._wait_until_ok(deadline)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ok(self, deadline: float) -> None:
        """Every node reports ``cluster_state:ok`` and knows all the masters."""
        pending = set(self.ports)
        while pending and time.monotonic() < deadline:
            for port in sorted(pending):
                info = self._redis_cli(port, "cluster", "info")
                known = self._redis_cli(port, "cluster", "nodes").count("master")
                if "cluster_state:ok" in info and known >= len(self.ports):
                    pending.discard(port)
            if pending:
                time.sleep(0.1)
        if pending:
            raise RuntimeError(f"cluster did not reach cluster_state:ok on ports {sorted(pending)}")

    def stop_node(self, index: int) -> None:
        """Kill one master (SIGTERM) and leave the others running."""
        proc = self.procs[index]
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []
