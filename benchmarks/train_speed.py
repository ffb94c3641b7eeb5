"""Training-step time of PAA, SASRec, NoPE and RoPE, side by side in one run.

A step is forward + full-softmax backward + Adam update on a batch of full-length sequences.
Models are timed round-robin (one step each, repeated) so that noise on a shared machine hits
all of them alike; the table reports medians and the ratio to SASRec at the same length.

    python -m benchmarks.train_speed [--repeats 15] [--batch 128] [--items 1682]
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import machine, median_ms, write_results
from training.config import ModelSettings, TrainSettings
from training.models import SeqRecModel, variant_settings
from training.trainer.objective import NextItemObjective

MODELS = ("paa", "sasrec", "nope", "rope")


def make_step(
    name: str, max_len: int, hidden: int, items: int
) -> tuple[NextItemObjective, torch.optim.Optimizer]:
    settings = variant_settings(
        name, ModelSettings(max_len=max_len, hidden=hidden, blocks=2, dropout=0.2)
    )
    objective = NextItemObjective(SeqRecModel(settings, items), TrainSettings())
    return objective, torch.optim.Adam(objective.parameters(), lr=1e-3, betas=(0.9, 0.98))


def time_step(
    objective: NextItemObjective,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
) -> float:
    started = time.perf_counter()
    loss = objective(inputs, targets) / targets.numel()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--items", type=int, default=1682, help="catalogue size (ML-100K: 1682)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 200])
    args = parser.parse_args()
    torch.manual_seed(0)
    records = []
    for max_len in args.lengths:
        steps = {name: make_step(name, max_len, args.hidden, args.items) for name in MODELS}
        inputs = torch.randint(1, args.items + 1, (args.batch, max_len))
        targets = torch.randint(1, args.items + 1, (args.batch, max_len))
        samples: dict[str, list[float]] = {name: [] for name in MODELS}
        for repeat in range(args.warmup + args.repeats):
            for name, (objective, optimizer) in steps.items():
                elapsed = time_step(objective, optimizer, inputs, targets)
                if repeat >= args.warmup:
                    samples[name].append(elapsed)
        for name in MODELS:
            records.append(
                {
                    "model": name,
                    "T": max_len,
                    "hidden": args.hidden,
                    "batch": args.batch,
                    "items": args.items,
                    "threads": torch.get_num_threads(),
                    "step_ms": round(median_ms(samples[name]), 2),
                    "step_ms_min": round(min(samples[name]) * 1000, 2),
                }
            )
    lines = [
        "# Training step time\n",
        f"Forward + backward + Adam on a batch of {args.batch} full-length sequences, hidden "
        f"{args.hidden}, 2 blocks, {args.items} items (full softmax), {torch.get_num_threads()} "
        f"threads on {machine()}. Median of {args.repeats} round-robin steps.\n",
        "| T | model | step (ms) | vs SASRec |",
        "|---|---|---|---|",
    ]
    for record in records:
        base = next(r for r in records if r["T"] == record["T"] and r["model"] == "sasrec")
        ratio = record["step_ms"] / base["step_ms"]
        record["ratio_vs_sasrec"] = round(ratio, 3)
        lines.append(
            f"| {record['T']} | {record['model']} | {record['step_ms']:.1f} | {ratio:.2f}x |"
        )
        print(
            f"T={record['T']:<4} {record['model']:<7} {record['step_ms']:8.1f} ms  {ratio:.2f}x SASRec"
        )
    lines.append("\nGoal: PAA within 1.25x of SASRec at both lengths.\n")
    write_results("train_speed", records, "\n".join(lines))


if __name__ == "__main__":
    main()
