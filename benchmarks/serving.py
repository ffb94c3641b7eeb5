"""Serving benchmark: raw ONNX Runtime vs the service vs a naive eager-PyTorch server.

One run, one machine, one model (ML-100K PAA, T = 200; built into runs/bench/serving if
missing). The load generator (benchmarks/serving_client.py) runs in its own process; users are
pre-populated in a private Redis with the real ML-100K training histories.

``python -m benchmarks.serving [--quick]`` writes docs/benchmarks/serving.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

from benchmarks.serving_client import zipf_weights
from benchmarks.serving_raw import batch_sweep, catalogue_sweep, length_sweep, option_sweep
from benchmarks.serving_report import write_report
from load_tests.processes import free_port, python_server, redis_server, service_process
from service.core.config import Settings
from service.inference.session import SessionConfig

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "bench" / "serving"
RUN_NAME = "paa-ml100k-t200"
PREFIX = "bench"
CONCURRENCY = (1, 8, 32, 128)


def ensure_model() -> tuple[Path, Path]:
    """(checkpoint, bundle): a short ML-100K training run and its export, built once."""
    checkpoint = WORK / RUN_NAME / "checkpoint"
    bundle = WORK / "bundle-t200"
    paarec = [sys.executable, "-m", "training.cli"]
    if not (checkpoint / "model.safetensors").is_file():
        sets = ["train.epochs=3", "train.progress=false", f"output_dir={WORK}", f"name={RUN_NAME}"]
        args = [*paarec, "train", "-c", "configs/paa-ml100k.yaml"]
        for s in sets:
            args += ["--set", s]
        subprocess.run(args, cwd=ROOT, check=True)
    if not (bundle / "bundle.json").is_file():
        export = [*paarec, "export", str(checkpoint), "--out", str(bundle), "--no-real-data"]
        subprocess.run(export, cwd=ROOT, check=True)
    return checkpoint, bundle


def load_histories(checkpoint: Path) -> tuple[list[str], list[list[str]], list[np.ndarray]]:
    """ML-100K training histories: user ids ``u<n>``, item-id lists, and index arrays."""
    from training.checkpoint import load_checkpoint
    from training.pipeline import prepare_data

    ckpt = load_checkpoint(checkpoint)
    split = prepare_data(ckpt.config).split
    max_len = ckpt.config.model.max_len
    seqs = [np.asarray(s[-max_len:], dtype=np.int64) for s in split.train_sequences if len(s)]
    # Most active users first: the Zipf-skewed client then hits the heavy users most often.
    seqs.sort(key=len, reverse=True)
    ids = [[str(x) for x in ckpt.vocab.decode(s)] for s in seqs]
    return [f"u{n}" for n in range(1, len(seqs) + 1)], ids, seqs


def populate(redis_url: str, users: list[str], histories: list[list[str]]) -> None:
    client = redis.Redis.from_url(redis_url)
    pipe = client.pipeline(transaction=False)
    for user, items in zip(users, histories, strict=True):
        key = f"{PREFIX}:{{user:{user}}}:history"
        pipe.delete(key)
        pipe.rpush(key, *items)
    pipe.execute()
    client.close()


def load(port: int, users_file: Path, seconds: float, **kw: Any) -> dict[str, Any]:
    """One run of the load generator in its own process."""
    args = [sys.executable, "-m", "benchmarks.serving_client", "--port", str(port)]
    args += ["--users-file", str(users_file), "--seconds", str(seconds)]
    for key, value in kw.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def service_env(**overrides: Any) -> dict[str, str]:
    return {f"PAAREC_{k.upper()}": str(v) for k, v in overrides.items()}


def session_config(settings: Settings) -> SessionConfig:
    """The service's ORT configuration, for the raw runs (same thread budget)."""
    return SessionConfig(
        "cpu",
        settings.ort_intra_op_threads,
        settings.ort_inter_op_threads,
        settings.ort_allow_spinning,
        settings.ort_graph_optimization,
        settings.ort_enable_mem_pattern,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6.0, help="measured seconds per load level")
    p.add_argument("--quick", action="store_true", help="short runs (a smoke check, not results)")
    p.add_argument("--skip-options", action="store_true", help="skip the session-option sweep")
    args = p.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    started = time.time()
    checkpoint, bundle = ensure_model()
    meta = json.loads((bundle / "bundle.json").read_text())
    n_items, max_len, hidden = meta["n_items"], meta["model"]["max_len"], meta["model"]["hidden"]
    users, item_ids, seqs = load_histories(checkpoint)
    settings = Settings(_env_file=None)
    config = session_config(settings)
    model = bundle / "model.onnx"
    records: list[dict[str, Any]] = []
    extra: dict[str, Any] = {
        "n_items": n_items, "max_len": max_len, "hidden": hidden, "cpus": os.cpu_count(),
    }  # fmt: skip

    print("raw ORT batch sweep ...", flush=True)
    weights = zipf_weights(len(seqs))  # the same skew as the HTTP load generator
    records += batch_sweep(
        model, config, seqs, max_len, seconds=0.3 if args.quick else 1.0, weights=weights
    )
    if not args.skip_options:
        print("session-option sweep ...", flush=True)
        extra["options"] = option_sweep(model, seqs, max_len, 0.5 if not args.quick else 0.15)
    print("history-length sweep ...", flush=True)
    extra["lengths"] = length_sweep(model, config, seqs, (1, 5, 10, 25, 50, 100, 150, 200))
    print("catalogue sweep ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="paarec-bench-") as tmp:
        extra["catalogue"] = catalogue_sweep(model, config, n_items, hidden, seqs, Path(tmp))

    with tempfile.TemporaryDirectory(prefix="paarec-bench-") as tmp, redis_server() as url:
        users_file = Path(tmp) / "users.txt"
        users_file.write_text("\n".join(users))
        populate(url, users, item_ids)
        env = service_env(redis_key_prefix=PREFIX)
        with service_process(bundle, url, env=env, prefix=PREFIX) as base:
            port = int(base.rsplit(":", 1)[1])
            for c in CONCURRENCY:
                print(f"service c={c} ...", flush=True)
                r = load(port, users_file, seconds, concurrency=c)
                records.append({"system": "service", "concurrency": c, **r})
            best = max(r["rps"] for r in records if r["system"] == "service")
            rate = best / 2
            print(f"service open loop at {rate:.0f} req/s ...", flush=True)
            r = load(port, users_file, max(seconds, 8.0), rate=rate, warmup=1.0)
            records.append({"system": "service_open_loop", "concurrency": 0, "rate": rate, **r})
        naive_port = free_port()
        naive = ["-m", "benchmarks.naive_server", str(checkpoint), "--port", str(naive_port)]
        naive += ["--redis-url", url, "--prefix", PREFIX, "--threads", str(os.cpu_count() or 1)]
        with python_server(naive, naive_port):
            for c in CONCURRENCY:
                print(f"naive c={c} ...", flush=True)
                r = load(naive_port, users_file, seconds, concurrency=c)
                records.append({"system": "naive", "concurrency": c, **r})

    extra["elapsed_s"] = time.time() - started
    extra["settings"] = {
        k: v
        for k, v in settings.model_dump().items()
        if k.startswith(("ort_", "batch_")) or k == "length_buckets"
    }
    command = "python -m benchmarks.serving" + (
        " " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""
    )
    text = write_report(records, extra, command)
    print(text)


if __name__ == "__main__":
    main()
