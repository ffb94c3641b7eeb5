"""PyTorch -> ONNX conversion of the serving graph (encoder + ranking tail)."""

from __future__ import annotations

import io
import logging
import warnings

import onnx
import torch
from torch import nn

from export.encoder import ServingEncoder
from export.topk_tail import SCORES_IN, append_topk_tail

# Pinned exporter path and opset: the torch.export-based exporter (``dynamo=True``) is the one
# PyTorch maintains (the TorchScript exporter is deprecated) and it handles the symbolic
# history length that slices the baked kernels; 18 is its native opset, so no version
# conversion runs, and every ONNX Runtime since 1.14 (CPU and CUDA) implements it fully.
OPSET = 18
EXPORTER = "torch.onnx.export(dynamo=True)"


def export_encoder(encoder: nn.Module, max_len: int, opset: int = OPSET) -> onnx.ModelProto:
    """Trace ``history (batch, length) -> catalogue scores`` with both axes dynamic."""
    example = torch.ones(2, min(3, max_len), dtype=torch.long)
    batch = torch.export.Dim("batch", min=1, max=65_536)
    length = torch.export.Dim("length", min=1, max=max_len)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(
            encoder,
            (example,),
            input_names=["history"],
            output_names=[SCORES_IN],
            dynamic_shapes=({0: batch, 1: length},),
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    assert program is not None
    buffer = io.BytesIO()
    program.save(buffer)  # type: ignore[arg-type]
    return onnx.load_from_string(buffer.getvalue())


class Float32Scores(nn.Module):
    """Runs a half-precision encoder and hands float32 scores to the ranking tail, so the
    graph's inputs and outputs are the same for fp16 and fp32 bundles."""

    def __init__(self, encoder: ServingEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self.encoder(history).float()


def build_serving_graph(
    encoder: ServingEncoder, opset: int = OPSET, fp16: bool = False
) -> onnx.ModelProto:
    """``fp16``: weights, kernels and activations in half precision (GPU bundles)."""
    traced: nn.Module = Float32Scores(encoder.half()) if fp16 else encoder
    model = export_encoder(traced, encoder.model.settings.max_len, opset)
    model = append_topk_tail(model)
    model.doc_string = "paarec serving graph: history -> masked top-K items"
    return model
