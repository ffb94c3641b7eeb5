"""Data-parallel training: a 2-process gloo run on CPU must equal the single-process run.

The unit test checks the single-process context; the slow test launches
``torch.distributed.run`` for real and compares weights, metrics and the files written.
(Batch sharding itself is covered by tests/training/trainer/test_sequences.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from training.checkpoint import load_checkpoint
from training.trainer.distributed import DistributedContext, init_distributed

WORLD = 2
BATCH_SIZE = 16
# 60 users, every one a training sequence: 3 global batches of 16 and a last one of 12. A last
# global batch with fewer rows than ranks (e.g. 1 row, with 65 users) is dropped by a
# data-parallel run but kept by a single process (TrainingSequences.batches), so the runs
# would differ; the test asserts that this case does not arise.
N_USERS = 60
N_ITEMS = 40


# --- the process context -------------------------------------------------------------------


@pytest.mark.parametrize("world_size", [None, "1"])
def test_init_distributed_without_torchrun_is_a_single_process(
    monkeypatch: pytest.MonkeyPatch, world_size: str | None
) -> None:
    if world_size is None:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("WORLD_SIZE", world_size)
    context = init_distributed("cpu")
    assert context == DistributedContext(rank=0, world_size=1, local_rank=0)
    assert not context.enabled
    assert context.is_main
    assert not torch.distributed.is_initialized()  # no process group was joined
    device = torch.device("cpu")
    assert context.broadcast_flag(True, device) is True
    assert context.broadcast_flag(False, device) is False
    total = torch.tensor(3.5)
    assert context.all_reduce_sum(total) is total
    assert total.item() == 3.5
    context.barrier()  # a no-op, must not need a process group


# --- a real two-process run ----------------------------------------------------------------


def _user_items() -> list[list[str]]:
    """Users walking the catalogue in order with a few random jumps: learnable, deterministic."""
    rng = np.random.default_rng(0)
    users = []
    for user in range(N_USERS):
        item = user % N_ITEMS + 1
        items = [item]
        for _ in range(int(rng.integers(5, 13)) - 1):
            item = int(rng.integers(1, N_ITEMS + 1)) if rng.random() < 0.15 else item % N_ITEMS + 1
            items.append(item)
        users.append([f"i{i}" for i in items])
    return users


def _write_sequences(path: Path) -> Path:
    """The ``sequences`` format: ``user item item ...`` per line."""
    lines = [" ".join([f"u{user}", *items]) for user, items in enumerate(_user_items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def _overrides(data: Path, runs: Path, name: str) -> list[str]:
    settings = {
        "data.source": data,
        "data.format": "sequences",
        "split.protocol": "loo",
        "model.max_len": 10,
        "model.hidden": 16,
        "model.blocks": 1,
        "model.dropout": 0.0,  # per-rank dropout streams differ; 0 makes the runs comparable
        "train.epochs": 2,
        "train.batch_size": BATCH_SIZE,
        "train.progress": "false",
        "train.device": "cpu",
        "train.threads": 1,
        "train.seed": 3,
        "eval.ks": "[5,10]",
        "output_dir": runs,
        "name": name,
    }
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


def _run(command: list[str], cwd: Path, timeout: float) -> str:
    env = {k: v for k, v in os.environ.items() if k not in _TORCHRUN_VARS}
    env |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(command)} -> {done.returncode}\n{done.stdout}\n{done.stderr[-6000:]}"
    )
    return done.stdout


_ROOT = Path(__file__).resolve().parents[2]
_TORCHRUN_VARS = {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}


def _next_item_logits(checkpoint: Path, max_len: int = 10) -> torch.Tensor:
    """The model's scores for the item after each user's newest ``max_len`` items."""
    loaded = load_checkpoint(checkpoint)
    inputs = torch.zeros(N_USERS, max_len, dtype=torch.int64)
    for row, items in enumerate(_user_items()):
        newest = torch.from_numpy(loaded.vocab.encode(items[-max_len:]))
        inputs[row, max_len - len(newest) :] = newest  # left-padded with 0
    with torch.no_grad():
        hidden = loaded.model.encode(inputs)[:, -1]  # (B, d): the newest position
        return hidden @ loaded.model.item_weights.T


def _history(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_process_gloo_training_equals_the_single_process_run(tmp_path: Path) -> None:
    assert not 0 < N_USERS % BATCH_SIZE < WORLD  # no dropped final batch: the runs can match
    data = _write_sequences(tmp_path / "sequences.txt")
    runs = tmp_path / "runs"
    train = ["-m", "training.cli", "train"]
    _run([sys.executable, *train, *_overrides(data, runs, "single")], tmp_path, 120)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    torchrun += ["--nproc-per-node", str(WORLD)]
    stdout = _run([*torchrun, *train, *_overrides(data, runs, "ddp")], tmp_path, 180)
    assert stdout.count("checkpoint: ") == 1  # only rank 0 reports (and writes) a checkpoint

    single, ddp = runs / "single", runs / "ddp"
    # One checkpoint folder, written once by rank 0: no per-rank copies, no staging leftovers.
    assert sorted(p.name for p in runs.iterdir()) == ["ddp", "single"]
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    assert sorted(p.name for p in ddp.iterdir()) == [
        "checkpoint",
        "history.jsonl",
        "resolved_config.yaml",
    ]
    assert sorted(p.name for p in (ddp / "checkpoint").iterdir()) == sorted(
        p.name for p in (single / "checkpoint").iterdir()
    )

    weights_single = load_file(single / "checkpoint" / "model.safetensors")
    weights_ddp = load_file(ddp / "checkpoint" / "model.safetensors")
    assert weights_single.keys() == weights_ddp.keys()
    for name, tensor in weights_single.items():
        if name.endswith("attention.key.bias"):
            # Adding b to every key adds q·b to all of a query's logits, which softmax ignores:
            # its true gradient is 0, so Adam (m / sqrt(v)) turns float rounding into lr-sized
            # steps and the value is noise in either run. Its (nil) effect is checked below.
            continue
        diff = (weights_ddp[name] - tensor).abs().max().item()
        assert diff <= 1e-4, f"{name}: max abs difference {diff:.3g}"
    # The trained functions agree: next-item logits on every training sequence.
    logits = [_next_item_logits(run / "checkpoint") for run in (single, ddp)]
    assert (logits[0] - logits[1]).abs().max().item() <= 1e-4

    metrics_single = json.loads((single / "checkpoint" / "metrics.json").read_text())
    metrics_ddp = json.loads((ddp / "checkpoint" / "metrics.json").read_text())
    assert metrics_single["world_size"] == 1
    assert metrics_ddp["world_size"] == 2
    assert metrics_ddp["n_train_sequences"] == metrics_single["n_train_sequences"] == N_USERS
    for key in ("best_epoch", "epochs_run", "stopped_by", "n_items", "n_test_targets"):
        assert metrics_ddp[key] == metrics_single[key], key
    for split in ("validation", "test"):
        assert metrics_ddp[split].keys() == metrics_single[split].keys()
        for metric, value in metrics_single[split].items():
            assert metrics_ddp[split][metric] == pytest.approx(value, abs=1e-4), (split, metric)

    # One log, one record per epoch, with the same (globally reduced) training loss.
    history_single, history_ddp = _history(single), _history(ddp)
    assert [r["epoch"] for r in history_ddp] == [1, 2]
    assert [r["epoch"] for r in history_single] == [1, 2]
    for a, b in zip(history_single, history_ddp, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["validation"] == pytest.approx(a["validation"], abs=1e-4)
