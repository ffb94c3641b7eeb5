"""``paarec export``: checkpoint -> verified ONNX bundle (and optionally a Triton repository)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer


def _real_histories(checkpoint: Path) -> list[np.ndarray]:
    """Test histories from the checkpoint's own dataset, when it can still be loaded."""
    from training.checkpoint import load_checkpoint
    from training.data.errors import DataError
    from training.pipeline import prepare_data

    config = load_checkpoint(checkpoint).config
    try:
        return list(prepare_data(config).split.test.histories)
    except (DataError, OSError) as exc:
        typer.secho(f"warning: verifying on random histories only ({exc})", err=True)
        return []


def export_command(
    checkpoint: Annotated[
        Path, typer.Argument(help="Checkpoint folder written by `paarec train`.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Bundle folder to write (replaced atomically).")
    ],
    max_k: Annotated[int, typer.Option(help="Largest K the service may ask for.")] = 100,
    tolerance: Annotated[
        float | None,
        typer.Option(
            help="Max |score| difference ONNX vs PyTorch [default: 1e-4; 2e-2 with --fp16]."
        ),
    ] = None,
    fp16: Annotated[
        bool, typer.Option(help="Half-precision graph for GPU bundles (looser verification).")
    ] = False,
    name: Annotated[
        str | None, typer.Option(help="Model name in bundle.json (default: run name).")
    ] = None,
    real_data: Annotated[
        bool, typer.Option(help="Also verify on the dataset's test histories.")
    ] = True,
    triton: Annotated[
        Path | None, typer.Option(help="Also write a Triton model repository here.")
    ] = None,
) -> None:
    """Export CHECKPOINT to a self-contained bundle: model.onnx, bundle.json, items, popularity."""
    import onnx

    from export.bundle import ExportOptions, export_bundle
    from export.triton import write_triton_repository

    histories = _real_histories(checkpoint) if real_data else []
    tolerance = tolerance if tolerance is not None else (2e-2 if fp16 else 1e-4)
    options = ExportOptions(
        max_k=max_k, tolerance=tolerance, fp16=fp16, name=name, real_histories=histories
    )
    result = export_bundle(checkpoint, out, options)
    parity = result.parity
    typer.echo(
        f"parity: max |score diff| {parity.max_abs_diff:.2e} (tolerance {parity.tolerance:.0e}), "
        f"top-{max_k} agreement {parity.topk_agreement:.4f} over {len(parity.cases)} cases"
    )
    typer.echo(json.dumps(result.metadata["model"]))
    if triton is not None:
        model = onnx.load(str(out / "model.onnx"))
        folder = write_triton_repository(model, triton, result.metadata["model"]["name"], max_k)
        typer.echo(f"triton repository: {folder}")
    typer.echo(f"bundle: {out} ({result.seconds:.1f}s)")


def register_export(app: typer.Typer) -> None:
    from training.cli import reports_errors

    app.command("export")(reports_errors(export_command))
