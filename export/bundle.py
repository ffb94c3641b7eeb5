"""Checkpoint -> self-contained model bundle, written atomically and verified before it lands."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from export.encoder import ServingEncoder
from export.onnx_export import EXPORTER, OPSET, build_serving_graph
from export.verify import ParityReport, verify_parity
from training.atomic import replace_dir
from training.checkpoint import WEIGHTS_FILE, Checkpoint, load_checkpoint
from training.errors import UserError
from training.models.variants import variant_name

SCHEMA_VERSION = 1


class ExportError(UserError):
    """An export that cannot be done or did not verify; no bundle is left behind."""


@dataclass(frozen=True)
class ExportOptions:
    max_k: int = 100
    tolerance: float = 1e-4
    fp16: bool = False
    min_fp16_agreement: float = 0.95
    name: str | None = None
    real_histories: list[np.ndarray] | None = None


@dataclass(frozen=True)
class ExportResult:
    bundle_dir: Path
    metadata: dict[str, Any]
    parity: ParityReport
    seconds: float


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _staging_dir(out_dir: Path) -> Path:
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; a bundle is read by other users
        return staging
    except OSError as exc:
        raise ExportError(f"cannot write the bundle to {out_dir}: {exc.strerror or exc}") from exc


def _metadata(
    checkpoint: Checkpoint,
    checkpoint_dir: Path,
    onnx_sha: str,
    options: ExportOptions,
    parity: ParityReport,
) -> dict[str, Any]:
    settings = checkpoint.model.settings
    name = options.name or checkpoint.config.name
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": name,
            "version": onnx_sha[:12],
            "arch": settings.arch,
            "variant": variant_name(settings),
            "max_len": settings.max_len,
            "hidden": settings.hidden,
            "blocks": settings.blocks,
            "heads": settings.heads,
            "kernels": {
                "key": settings.key_kernel,
                "value": settings.value_kernel,
                "key_sharing": settings.key_sharing,
                "value_sharing": settings.value_sharing,
            }
            if settings.arch == "paa"
            else None,
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "onnx": {
            "file": "model.onnx",
            "sha256": onnx_sha,
            "opset": OPSET,
            "exporter": EXPORTER,
            "precision": "fp16" if options.fp16 else "fp32",
        },
        "checkpoint_sha256": sha256_file(checkpoint_dir / WEIGHTS_FILE),
        "n_items": checkpoint.model.n_items,
        "max_k": options.max_k,
        "has_titles": checkpoint.titles is not None,
        "metrics": checkpoint.metrics.get("test", {}),
        "evaluation": {key: checkpoint.metrics.get(key) for key in ("dataset", "protocol")},
        "parity": {
            "max_abs_diff": parity.max_abs_diff,
            "topk_agreement": parity.topk_agreement,
            "tolerance": parity.tolerance,
        },
    }


def export_bundle(checkpoint_dir: Path, out_dir: Path, options: ExportOptions) -> ExportResult:
    started = time.perf_counter()
    checkpoint = load_checkpoint(checkpoint_dir)
    n_items = checkpoint.model.n_items
    if not 1 <= options.max_k <= n_items:
        raise ExportError(
            f"max K must be between 1 and the catalogue size {n_items}, got {options.max_k}"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"output path {out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "bundle.json").is_file():
        raise ExportError(
            f"output folder {out_dir} is not empty and holds no bundle; refusing to replace it"
        )
    staging = _staging_dir(out_dir)
    try:
        # The reference stays in fp32; an fp16 graph is traced from a half-precision copy.
        source = copy.deepcopy(checkpoint.model) if options.fp16 else checkpoint.model
        graph = build_serving_graph(ServingEncoder(source), fp16=options.fp16)
        onnx.checker.check_model(graph, full_check=True)
        onnx_path = staging / "model.onnx"
        onnx.save(graph, onnx_path)
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        parity = verify_parity(
            session,
            checkpoint.model,
            options.max_k,
            options.tolerance,
            options.real_histories,
            min_agreement=options.min_fp16_agreement if options.fp16 else None,
        )
        if not parity.passed:
            raise ExportError(
                "exported graph does not match PyTorch: " + "; ".join(parity.failures[:5])
            )
        checkpoint.vocab.save(staging)
        np.save(
            staging / "popularity.npy", checkpoint.popularity.astype(np.int64), allow_pickle=False
        )
        if checkpoint.titles is not None:
            np.save(staging / "titles.npy", checkpoint.titles.astype(str), allow_pickle=False)
        metadata = _metadata(checkpoint, checkpoint_dir, sha256_file(onnx_path), options, parity)
        (staging / "bundle.json").write_text(json.dumps(metadata, indent=2))
        replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(out_dir, metadata, parity, time.perf_counter() - started)
