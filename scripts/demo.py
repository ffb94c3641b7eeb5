"""``make demo``: from a fresh clone to live recommendations in one command.

Prepares MovieLens-100K, trains the demo PAA configuration (temporal and leave-one-out
protocols), exports and verifies the bundle, starts Redis and the service, posts a few users'
recent movies as events and prints what the service recommends. Finished steps are skipped
on a re-run unless ``--redo`` is given. Ctrl-C stops what the demo started, and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RUNS = ROOT / "runs"
BUNDLE = ROOT / "artifacts" / "bundle"
REDIS_DATA = ROOT / ".redis-data"
DEMO_USERS = ("1", "13", "405")  # three ML-100K users with different tastes


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def run(*args: str) -> None:
    subprocess.run([str(BIN / "paarec"), *args], check=True, cwd=ROOT)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"error: {url} exited with code {process.returncode}")
        try:
            http("GET", url)
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"error: {url} did not become ready within {seconds:.0f}s")


def train(config: Path, protocol: str, redo: bool) -> Path:
    name = f"{config.stem}-{protocol}"
    checkpoint = RUNS / name / "checkpoint"
    if checkpoint.is_dir() and not redo:
        print(f"{checkpoint} exists, skipping training (use --redo to retrain)")
        print((checkpoint / "metrics.json").read_text())
    else:
        run(
            "train",
            "-c",
            str(config),
            "--set",
            f"name={name}",
            "--set",
            f"split.protocol={protocol}",
        )
    return checkpoint


def start_redis() -> tuple[str, subprocess.Popen[bytes] | None]:
    if os.environ.get("REDIS_URL"):
        print("using REDIS_URL from the environment")
        return os.environ["REDIS_URL"], None
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit(
            "error: no Redis. Set REDIS_URL=redis://host:port/0, or install redis-server "
            "(sudo apt-get install redis-server / brew install redis), or run "
            "`docker compose up -d redis` and set REDIS_URL."
        )
    port = free_port()
    REDIS_DATA.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(REDIS_DATA),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    print(f"started a private redis-server on port {port} (data in {REDIS_DATA}, AOF on)")
    return f"redis://127.0.0.1:{port}/0", process


def show_recommendations(base: str) -> None:
    import numpy as np

    titles = np.load(BUNDLE / "titles.npy") if (BUNDLE / "titles.npy").is_file() else None
    items = np.load(BUNDLE / "items.npy")
    title_of = dict(zip(items.tolist(), titles.tolist(), strict=True)) if titles is not None else {}
    histories = ml100k_recent(DEMO_USERS, 8)
    for user, recent in histories.items():
        http("DELETE", f"{base}/users/demo-{user}/history")
        http("POST", f"{base}/events", {"user_id": f"demo-{user}", "items": recent})
        print(f"\nuser demo-{user} recently watched:")
        for item in recent[-5:]:
            unknown = f"item {item} (not in the model's vocabulary, so not used for ranking)"
            print(f"    {title_of.get(item, unknown)}")
        answer = http("POST", f"{base}/recommend", {"user_id": f"demo-{user}", "k": 5})
        version, used = answer["model_version"], answer["history_length"]
        print(f"  recommended (model {version}, history {used}):")
        for entry in answer["items"]:
            print(f"    {entry['score']:7.2f}  {entry.get('title') or entry['item_id']}")
    cold = http("POST", f"{base}/recommend", {"user_id": "demo-new-user", "k": 3})
    print(
        f"\na new user gets fallback={cold['fallback']!r}: "
        + ", ".join(e.get("title") or e["item_id"] for e in cold["items"])
    )


def ml100k_recent(users: tuple[str, ...], count: int) -> dict[str, list[str]]:
    from training.config import DataConfig
    from training.data import load_interactions

    frame = load_interactions(DataConfig(source="ml-100k")).frame
    return {user: frame[frame.user_id == user].item_id.tolist()[-count:] for user in users}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default_config = os.environ.get("PAAREC_DEMO_CONFIG", "configs/paa-ml100k.yaml")
    parser.add_argument("--config", type=Path, default=Path(default_config))
    parser.add_argument("--redo", action="store_true", help="redo data, training and export")
    parser.add_argument("--no-wait", action="store_true", help="stop after the sample requests")
    args = parser.parse_args()
    started = time.monotonic()
    step("1/5 data: MovieLens-100K (downloaded once, checksum-verified, cached)")
    run("data", "-c", str(args.config))
    step("2/5 train PAA: global temporal split, then leave-one-out")
    temporal = train(args.config, "temporal", args.redo)
    train(args.config, "loo", args.redo)
    step("3/5 export the temporal model to an ONNX bundle (verified against PyTorch)")
    if (BUNDLE / "bundle.json").is_file() and not args.redo:
        print(f"{BUNDLE} exists, skipping export (use --redo to re-export)")
    else:
        run("export", str(temporal), "--out", str(BUNDLE))
    run("plot", str(temporal))
    step("4/5 start Redis and the service")
    redis_url, redis = start_redis()
    port = free_port()
    env = {
        **os.environ,
        "PAAREC_BUNDLE_PATH": str(BUNDLE),
        "PAAREC_REDIS_URL": redis_url,
        "PAAREC_PORT": str(port),
        "PAAREC_LOG_LEVEL": "WARNING",
    }
    service = subprocess.Popen([str(BIN / "paarec-serve")], env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/readyz", service)
        step("5/5 live recommendations")
        show_recommendations(base)
        print(f"\nAPI docs: {base}/docs   metrics: {base}/metrics   model: {base}/model")
        print(f"demo took {time.monotonic() - started:.0f}s")
        if not args.no_wait and sys.stdin.isatty():
            print("the service keeps running; press Ctrl-C to stop it and Redis")
            signal.pause()
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        for process in (service, redis):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
