"""ONNX Runtime latency of the optimised serving graph vs a straightforward export.

The straightforward graph is the full training forward pass exported as is: every position in
every block, and the kernels rebuilt from their parameters (Toeplitz gather, normalisation)
on each call. The optimised graph bakes the kernels as constants, slices the needed corner
for short histories and computes only the newest position in the last block. Both share the
same masking / top-K tail and run in the same process, timed round-robin at batch 1.

    python -m benchmarks.export_latency [--repeats 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from benchmarks.common import machine, median_ms, write_results
from export.bundle import ExportOptions, export_bundle
from export.encoder import ServingEncoder
from export.onnx_export import build_serving_graph, export_encoder
from export.topk_tail import append_topk_tail
from service.inference.bundle import load_bundle
from service.inference.session import OnnxSession, SessionConfig
from training.checkpoint import Checkpoint, save_checkpoint
from training.config import ModelSettings, RunConfig
from training.data.vocab import ItemVocab
from training.models import VARIANTS, SeqRecModel, variant_settings

SHARED_BEAUTY_54K = Path(__file__).resolve().parents[2] / "shared" / "data" / "amazon-beauty-54k"


class TrainingForwardEncoder(nn.Module):
    """The training forward pass, unchanged: all positions, kernels computed at run time."""

    def __init__(self, model: SeqRecModel) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self.model.encode(history)[:, -1] @ self.model.item_weights.T


def session(model: onnx.ModelProto, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def latency_table(model: SeqRecModel, repeats: int, threads: int) -> list[dict[str, Any]]:
    max_len = model.settings.max_len
    graphs = {
        "optimised": build_serving_graph(ServingEncoder(model)),
        "straightforward": append_topk_tail(export_encoder(TrainingForwardEncoder(model), max_len)),
    }
    sessions = {name: session(graph, threads) for name, graph in graphs.items()}
    rng = np.random.default_rng(0)
    records: list[dict[str, Any]] = []
    for length in sorted({10, 50, max_len}):
        feeds = {
            "history": rng.integers(1, model.n_items + 1, (1, length)),
            "k": np.array([10]),
            "exclude_seen": np.array([True]),
            "exclude": np.zeros((1, 1), dtype=np.int64),
        }
        samples: dict[str, list[float]] = {name: [] for name in sessions}
        for repeat in range(repeats + 20):
            for name, sess in sessions.items():
                started = time.perf_counter()
                sess.run(None, feeds)
                if repeat >= 20:
                    samples[name].append(time.perf_counter() - started)
        for name in sessions:
            records.append(
                {
                    "graph": name,
                    "length": length,
                    "batch": 1,
                    "threads": threads,
                    "p50_ms": round(median_ms(samples[name]), 3),
                    "p90_ms": round(float(np.percentile(samples[name], 90)) * 1000, 3),
                }
            )
    return records


def bundle_size_and_load(
    name: str, items: np.ndarray, max_len: int, workdir: Path
) -> dict[str, Any]:
    """Export a (randomly initialised: size and load time do not depend on training) model."""
    vocab = ItemVocab(np.concatenate([[""], items]))
    settings = ModelSettings(max_len=max_len, hidden=64, blocks=2)
    model = SeqRecModel(settings, len(vocab))
    config = RunConfig.model_validate({"name": name, "model": settings.model_dump()})
    popularity = np.arange(len(vocab) + 1, dtype=np.int64)[::-1].copy()
    popularity[0] = 0
    checkpoint_dir = save_checkpoint(
        workdir / f"{name}-ckpt", Checkpoint(model, config, vocab, popularity, {})
    )
    bundle_dir = workdir / f"{name}-bundle"
    export_bundle(checkpoint_dir, bundle_dir, ExportOptions(max_k=100))
    loads = []
    for _ in range(5):
        started = time.perf_counter()
        bundle = load_bundle(bundle_dir)
        onnx_session = OnnxSession(bundle.onnx_path, SessionConfig())
        onnx_session.run(
            np.ones((1, 5), dtype=np.int64), 10, np.array([True]), np.zeros((1, 1), dtype=np.int64)
        )
        loads.append(time.perf_counter() - started)
    sizes = {path.name: path.stat().st_size for path in bundle_dir.iterdir()}
    return {
        "bundle": name,
        "items": len(vocab),
        "max_len": max_len,
        "total_bytes": sum(sizes.values()),
        "files": sizes,
        "load_ms_p50": round(median_ms(loads), 1),
    }


def parity_table(workdir: Path, max_len: int) -> list[dict[str, Any]]:
    """Export every model of the zoo (and PAA in fp16) and keep the verification figures."""
    vocab = ItemVocab(np.concatenate([[""], [str(i) for i in range(1, 1683)]]))
    popularity = np.ones(len(vocab) + 1, dtype=np.int64)
    records: list[dict[str, Any]] = []
    for name in [*VARIANTS, "paa (fp16)"]:
        variant = name.split()[0]
        settings = variant_settings(variant, ModelSettings(max_len=max_len, hidden=64, blocks=2))
        model = SeqRecModel(settings, len(vocab))
        config = RunConfig.model_validate({"name": variant, "model": settings.model_dump()})
        checkpoint_dir = save_checkpoint(
            workdir / f"parity-{variant}", Checkpoint(model, config, vocab, popularity, {})
        )
        fp16 = name.endswith("(fp16)")
        options = ExportOptions(max_k=10, tolerance=2e-2 if fp16 else 1e-4, fp16=fp16)
        parity = export_bundle(checkpoint_dir, workdir / f"parity-{variant}-bundle", options).parity
        records.append(
            {
                "model": name,
                "max_abs_diff": parity.max_abs_diff,
                "top10_agreement": parity.topk_agreement,
                "cases": len(parity.cases),
            }
        )
        print(
            f"parity {name:<14} max|diff| {parity.max_abs_diff:.2e}  top-10 {parity.topk_agreement:.4f}"
        )
    return records


def beauty_54k_items() -> np.ndarray:
    path = SHARED_BEAUTY_54K / "interactions.txt"
    if path.is_file():
        ids = {line.split()[1] for line in path.read_text().splitlines() if line.strip()}
        return np.array(sorted(ids))
    return np.array([f"item{i}" for i in range(54_542)])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads")
    parser.add_argument("--max-len", type=int, default=200)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = SeqRecModel(ModelSettings(max_len=args.max_len, hidden=64, blocks=2, dropout=0.0), 1682)
    latency = latency_table(model, args.repeats, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        parity = parity_table(Path(tmp), args.max_len)
        sizes = [
            bundle_size_and_load(
                "ml-100k", np.array([str(i) for i in range(1, 1683)]), args.max_len, Path(tmp)
            ),
            bundle_size_and_load("amazon-beauty-54k", beauty_54k_items(), 50, Path(tmp)),
        ]
    lines = [
        "# Export: serving-graph latency and bundle size\n",
        f"ONNX Runtime {ort.__version__}, CPU provider, {args.threads} intra-op thread(s), batch 1, "
        f"PAA (hidden 64, 2 blocks, T = {args.max_len}, 1,682 items), {machine()}. "
        f"Median of {args.repeats} runs, both graphs timed round-robin.\n",
        "| history length | optimised p50 (ms) | straightforward p50 (ms) | speed-up |",
        "|---|---|---|---|",
    ]
    for length in sorted({r["length"] for r in latency}):
        fast = next(r for r in latency if r["length"] == length and r["graph"] == "optimised")
        slow = next(r for r in latency if r["length"] == length and r["graph"] == "straightforward")
        ratio = float(slow["p50_ms"]) / float(fast["p50_ms"])
        lines.append(f"| {length} | {fast['p50_ms']} | {slow['p50_ms']} | {ratio:.2f}x |")
        print(
            f"L={length:<4} optimised {fast['p50_ms']} ms  straightforward {slow['p50_ms']} ms  {ratio:.2f}x"
        )
    lines += [
        "\n## Bundle size and load time\n",
        "Load = read and validate the bundle, create the ONNX Runtime session, one warm-up "
        "inference (median of 5).\n",
        "| bundle | items | T | size (MB) | model.onnx (MB) | load (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for record in sizes:
        files = record["files"]
        assert isinstance(files, dict)
        lines.append(
            f"| {record['bundle']} | {record['items']:,} | {record['max_len']} | "
            f"{int(record['total_bytes']) / 1e6:.1f} | {files['model.onnx'] / 1e6:.1f} | "
            f"{record['load_ms_p50']} |"
        )
        print(record)
    lines += [
        "\n## Parity with PyTorch, per model\n",
        "From the verification that runs in every export: random and left-padded histories "
        "at lengths 1, T/4, T/2 and T, batches of 1, 4 and 16, random seen / extra "
        "exclusions (randomly initialised models, T = {args.max_len}).\n".replace(
            "{args.max_len}", str(args.max_len)
        ),
        "| model | max \\|score diff\\| | top-10 agreement | cases |",
        "|---|---|---|---|",
    ]
    for record in parity:
        lines.append(
            f"| {record['model']} | {float(record['max_abs_diff']):.2e} | "
            f"{float(record['top10_agreement']):.4f} | {record['cases']} |"
        )
    write_results("export", [*latency, *sizes, *parity], "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
