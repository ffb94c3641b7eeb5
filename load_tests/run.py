"""Headless locust run with CSV output and a latency / failure gate that sets the exit code.

Against a running service::

    python -m load_tests.run --host http://127.0.0.1:8000 --users 50 --duration 60 \\
        --max-p99-ms 250 --max-failure-ratio 0.001

Or self-contained (a private redis-server and ``python -m service`` on free ports, users
pre-populated with random histories from the bundle's items)::

    python -m load_tests.run --bundle artifacts/bundle --users 20 --duration 30

Exit code: 0 when every gate holds, 1 when a gate fails, 2 when locust itself failed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from load_tests.processes import ROOT, redis_server, service_process

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PREFIX = "load"


@dataclass(frozen=True)
class Summary:
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    rps: float

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 1.0


def read_summary(stats_csv: Path) -> Summary:
    """The ``Aggregated`` row of locust's ``<prefix>_stats.csv``."""
    with stats_csv.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
    if not rows:
        raise ValueError(f"no Aggregated row in {stats_csv}")
    r = rows[0]

    def num(key: str) -> float:
        value = r.get(key, "")
        return float(value) if value not in ("", "N/A") else float("nan")

    return Summary(
        int(num("Request Count")),
        int(num("Failure Count")),
        num("50%"),
        num("99%"),
        num("Requests/s"),
    )


def gate(summary: Summary, max_p99_ms: float | None, max_failure_ratio: float) -> list[str]:
    """Human-readable reasons the run failed its gates (empty: passed)."""
    problems = []
    if summary.requests == 0:
        problems.append("no requests were made")
    if summary.failure_ratio > max_failure_ratio:
        problems.append(
            f"failure ratio {summary.failure_ratio:.4f} > {max_failure_ratio} "
            f"({summary.failures}/{summary.requests})"
        )
    if max_p99_ms is not None and not summary.p99_ms <= max_p99_ms:
        problems.append(f"p99 {summary.p99_ms:.1f} ms > {max_p99_ms} ms")
    return problems


def populate(redis_url: str, bundle: Path, n_users: int, seed: int = 0) -> None:
    """Histories of 1..200 random catalogue items for users ``u1..u<n_users>``."""
    import redis

    items = np.load(bundle / "items.npy", allow_pickle=False)[1:]
    rng = np.random.default_rng(seed)
    client = redis.Redis.from_url(redis_url)
    pipe = client.pipeline(transaction=False)
    for n in range(1, n_users + 1):
        length = int(rng.integers(1, 201))
        pipe.rpush(f"{PREFIX}:{{user:u{n}}}:history", *items[rng.integers(len(items), size=length)])
    pipe.execute()
    client.close()


@contextlib.contextmanager
def own_stack(bundle: Path, n_users: int, service_env: dict[str, str]) -> Iterator[str]:
    """A private redis + service; yields the service URL."""
    with redis_server() as url:
        populate(url, bundle, n_users)
        with service_process(bundle, url, prefix=PREFIX, env=service_env) as base:
            yield base


def run_locust(host: str, args: argparse.Namespace, env: dict[str, str]) -> int:
    args.csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", host, "-u", str(args.users), "-r", str(args.spawn_rate),
        "-t", f"{args.duration}s", "--csv", str(args.csv_prefix), "--only-summary",
        "--stop-timeout", "5", "--loglevel", "WARNING",
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--host", help="base URL of a running service")
    target.add_argument("--bundle", type=Path, help="start a private redis + service with this")
    p.add_argument("--users", type=int, default=20, help="concurrent locust users")
    p.add_argument("--spawn-rate", type=float, default=20.0)
    p.add_argument("--duration", type=int, default=30, help="seconds")
    p.add_argument("--csv-prefix", type=Path, default=ROOT / "runs" / "loadtest" / "locust")
    p.add_argument("--max-p99-ms", type=float, default=None)
    p.add_argument("--max-failure-ratio", type=float, default=0.0)
    p.add_argument("--population", type=int, default=2000, help="users with stored histories")
    p.add_argument("--api-key", default=os.environ.get("PAAREC_LOAD_API_KEY"))
    args = p.parse_args(argv)

    env = {**os.environ, "PAAREC_LOAD_USERS": str(args.population)}
    if args.api_key:
        env["PAAREC_LOAD_API_KEY"] = args.api_key
    if args.bundle:
        env["PAAREC_LOAD_BUNDLE"] = str(args.bundle)
        keys = {"PAAREC_API_KEYS": args.api_key} if args.api_key else {}
        with own_stack(args.bundle, args.population, keys) as host:
            code = run_locust(host, args, env)
    else:
        code = run_locust(args.host, args, env)
    stats = Path(f"{args.csv_prefix}_stats.csv")
    if not stats.is_file():
        print(f"locust exited with {code} and wrote no {stats}", file=sys.stderr)
        return 2
    summary = read_summary(stats)
    print(
        f"requests {summary.requests}, failures {summary.failures} "
        f"({summary.failure_ratio:.4%}), {summary.rps:.1f} req/s, "
        f"p50 {summary.p50_ms:.1f} ms, p99 {summary.p99_ms:.1f} ms; csv: {args.csv_prefix}_*.csv"
    )
    problems = gate(summary, args.max_p99_ms, args.max_failure_ratio)
    for problem in problems:
        print(f"GATE FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
