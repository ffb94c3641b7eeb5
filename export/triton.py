"""A Triton Inference Server model repository for the same graph.

Triton's dynamic batcher concatenates requests along the first axis, so every input must be
batched: ``k`` is frozen to the bundle's maximum K (clients slice), and ``exclude_seen`` is a
per-request ``[1]`` reshaped to the graph's scalar-per-row.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from export.topk_tail import freeze_k

CONFIG_TEMPLATE = """\
name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch}
input [
  {{ name: "history" data_type: TYPE_INT64 dims: [ -1 ] }},
  {{ name: "exclude_seen" data_type: TYPE_BOOL dims: [ 1 ] reshape: {{ shape: [ ] }} }},
  {{ name: "exclude" data_type: TYPE_INT64 dims: [ -1 ] }}
]
output [
  {{ name: "scores" data_type: TYPE_FP32 dims: [ {max_k} ] }},
  {{ name: "items" data_type: TYPE_INT64 dims: [ {max_k} ] }}
]
dynamic_batching {{
  preferred_batch_size: [ 8, 32 ]
  max_queue_delay_microseconds: {delay_us}
}}
instance_group [ {{ count: 1 kind: {kind} }} ]
"""


def write_triton_repository(
    model: onnx.ModelProto,
    repository: Path,
    name: str,
    max_k: int,
    max_batch: int = 64,
    delay_us: int = 500,
    gpu: bool = True,
) -> Path:
    """Write ``repository/name/{config.pbtxt, 1/model.onnx}``; returns the model folder.

    Requests are batched only with others of the same history length, so clients should pad
    histories to a few length buckets (the service does the same).
    """
    folder = repository / name
    (folder / "1").mkdir(parents=True, exist_ok=True)
    onnx.save(freeze_k(model, max_k), folder / "1" / "model.onnx")
    kind = "KIND_GPU" if gpu else "KIND_CPU"
    (folder / "config.pbtxt").write_text(
        CONFIG_TEMPLATE.format(
            name=name, max_batch=max_batch, max_k=max_k, delay_us=delay_us, kind=kind
        )
    )
    return folder
