"""Load generator for the serving benchmark, run in its own process.

Closed loop: ``concurrency`` workers, each on its own keep-alive HTTP/1.1 connection, send a
request, wait for the answer, send the next. Open loop: requests start on a fixed schedule
(``rate`` per second) whatever the answers do, so queueing shows up in the latency. The HTTP
client is a few lines over asyncio streams (pre-encoded requests, Content-Length framing) so
that the generator spends as little of the shared CPUs as possible.

``python -m benchmarks.serving_client --port P --users-file F --concurrency 32 --seconds 8``
prints one JSON object: rps, latency percentiles (ms), errors, and the status counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


def zipf_weights(n: int, s: float = 1.1) -> np.ndarray:
    """Zipf probabilities over ranks 1..n (rank 1 most likely)."""
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def build_requests(users: list[str], n: int, k: int, seed: int) -> list[bytes]:
    """``n`` pre-encoded POST /recommend requests over Zipf-skewed users."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(users), size=n, p=zipf_weights(len(users)))
    out = []
    for i in picks:
        body = json.dumps({"user_id": users[int(i)], "k": k}).encode()
        head = (
            f"POST /recommend HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


class Connection:
    """One keep-alive connection; ``request`` returns the status code."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def closed_loop(
    host: str, port: int, requests: list[bytes], concurrency: int, warmup: float, seconds: float
) -> dict[str, Any]:
    conns = [await Connection.open(host, port) for _ in range(concurrency)]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    t0 = time.perf_counter()
    measure_from, stop_at = t0 + warmup, t0 + warmup + seconds

    async def worker(w: int) -> None:
        i = w
        while True:
            start = time.perf_counter()
            if start >= stop_at:
                return
            try:
                status = await conns[w].request(requests[i % len(requests)])
            except (OSError, asyncio.IncompleteReadError):
                status = 0
                conns[w] = await Connection.open(host, port)
            end = time.perf_counter()
            if start >= measure_from and end <= stop_at:
                latencies.append(end - start)
                statuses[status] += 1
            i += concurrency

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    for c in conns:
        c.close()
    return _summary(latencies, statuses, seconds)


async def open_loop(
    host: str, port: int, requests: list[bytes], rate: float, warmup: float, seconds: float
) -> dict[str, Any]:
    """Poisson arrivals at ``rate``/s; a free connection is taken from a pool (grown on need)."""
    idle: list[Connection] = [await Connection.open(host, port) for _ in range(16)]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    tasks: set[asyncio.Task[None]] = set()
    rnd = random.Random(0)
    t0 = time.perf_counter()
    measure_from, stop_at = t0 + warmup, t0 + warmup + seconds

    async def one(raw: bytes, scheduled: float) -> None:
        conn = idle.pop() if idle else await Connection.open(host, port)
        try:
            status = await conn.request(raw)
            idle.append(conn)
        except (OSError, asyncio.IncompleteReadError):
            status = 0
        end = time.perf_counter()
        if scheduled >= measure_from and scheduled < stop_at:
            latencies.append(end - scheduled)  # from the intended start: no coordinated omission
            statuses[status] += 1

    next_at, i = t0, 0
    while next_at < stop_at:
        delay = next_at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(requests[i % len(requests)], next_at))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
        next_at += rnd.expovariate(rate)
    await asyncio.gather(*tasks)
    for c in idle:
        c.close()
    return _summary(latencies, statuses, seconds)


def _summary(latencies: list[float], statuses: Counter[int], seconds: float) -> dict[str, Any]:
    ms = np.array(latencies) * 1000.0
    ok = statuses.get(200, 0)
    pct = (lambda q: float(np.percentile(ms, q))) if ms.size else (lambda q: float("nan"))
    return {
        "requests": int(ms.size),
        "rps": ok / seconds,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "mean_ms": float(ms.mean()) if ms.size else float("nan"),
        "errors": int(ms.size - ok),
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def main(argv: list[str] | None = None) -> None:
    """Run one load level and print its JSON summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--users-file", type=Path, required=True, help="one user id per line")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--rate", type=float, default=0.0, help="open loop at this rate (req/s)")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--k", type=int, default=10)
    args = p.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    users = args.users_file.read_text().split()
    requests = build_requests(users, 20_000, args.k, seed=args.concurrency)
    if args.rate > 0:
        coro = open_loop(args.host, args.port, requests, args.rate, args.warmup, args.seconds)
    else:
        coro = closed_loop(
            args.host, args.port, requests, args.concurrency, args.warmup, args.seconds
        )
    result = asyncio.run(coro)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
