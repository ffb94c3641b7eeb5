"""The ranking tail appended to the exported encoder: masking and top-K inside the graph.

It is written with ``onnx.helper`` rather than traced from PyTorch so that the inputs keep the
exact contract the service relies on (``k`` as a runtime tensor, per-row ``exclude_seen``, an
``exclude`` list) and the ops are ones every execution provider runs: ScatterElements, Where,
Add and TopK.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SCORES_IN = "catalogue_scores"  # (B, N + 1) from the encoder


def append_topk_tail(model: onnx.ModelProto, n_items: int) -> onnx.ModelProto:
    """Add inputs ``k``, ``exclude_seen``, ``exclude`` and outputs ``scores``, ``items``."""
    graph = model.graph
    graph.input.extend(
        [
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("exclude_seen", TensorProto.BOOL, ["batch"]),
            helper.make_tensor_value_info("exclude", TensorProto.INT64, ["batch", "n_exclude"]),
        ]
    )
    padding_mask = np.zeros((1, n_items + 1), dtype=np.float32)
    padding_mask[0, 0] = -np.inf  # index 0 is padding and never a recommendation
    graph.initializer.extend(
        [
            numpy_helper.from_array(padding_mask, "tail_padding_mask"),
            numpy_helper.from_array(np.array(-np.inf, dtype=np.float32), "tail_neg_inf"),
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), "tail_zero"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "tail_axis_1"),
        ]
    )
    nodes = [
        helper.make_node("Shape", [SCORES_IN], ["tail_scores_shape"]),
        helper.make_node(
            "ConstantOfShape",
            ["tail_scores_shape"],
            ["tail_zeros"],
            value=helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]),
        ),
        # Seen items: -inf for rows that asked for it, 0 (a no-op) for the others.
        helper.make_node("Unsqueeze", ["exclude_seen", "tail_axis_1"], ["tail_seen_flag"]),
        helper.make_node(
            "Where", ["tail_seen_flag", "tail_neg_inf", "tail_zero"], ["tail_seen_value"]
        ),
        helper.make_node("Shape", ["history"], ["tail_history_shape"]),
        helper.make_node("Expand", ["tail_seen_value", "tail_history_shape"], ["tail_seen_values"]),
        helper.make_node(
            "ScatterElements",
            ["tail_zeros", "history", "tail_seen_values"],
            ["tail_seen_penalty"],
            axis=1,
        ),
        helper.make_node("Shape", ["exclude"], ["tail_exclude_shape"]),
        helper.make_node("Expand", ["tail_neg_inf", "tail_exclude_shape"], ["tail_exclude_values"]),
        helper.make_node(
            "ScatterElements",
            ["tail_seen_penalty", "exclude", "tail_exclude_values"],
            ["tail_penalty"],
            axis=1,
        ),
        helper.make_node("Add", [SCORES_IN, "tail_penalty"], ["tail_partly_masked"]),
        helper.make_node("Add", ["tail_partly_masked", "tail_padding_mask"], ["tail_masked"]),
        helper.make_node(
            "TopK", ["tail_masked", "k"], ["scores", "items"], axis=1, largest=1, sorted=1
        ),
    ]
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "k"]),
            helper.make_tensor_value_info("items", TensorProto.INT64, ["batch", "k"]),
        ]
    )
    return model


def freeze_k(model: onnx.ModelProto, k: int) -> onnx.ModelProto:
    """A copy whose ``k`` is a constant: Triton's dynamic batcher needs every input batched."""
    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    kept = [value for value in frozen.graph.input if value.name != "k"]
    del frozen.graph.input[:]
    frozen.graph.input.extend(kept)
    frozen.graph.initializer.append(numpy_helper.from_array(np.array([k], dtype=np.int64), "k"))
    return frozen
