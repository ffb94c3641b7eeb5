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


def append_topk_tail(model: onnx.ModelProto) -> onnx.ModelProto:
    """Add inputs ``k``, ``exclude_seen``, ``exclude`` and outputs ``scores``, ``items``.

    Masked entries are written as -inf straight into the score rows with two ScatterElements
    (no full-size penalty tensor and no extra passes over the catalogue), which matters when a
    row has a million items: the tail then costs about as much as reading the scores once.
    """
    graph = model.graph
    graph.input.extend(
        [
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("exclude_seen", TensorProto.BOOL, ["batch"]),
            helper.make_tensor_value_info("exclude", TensorProto.INT64, ["batch", "n_exclude"]),
        ]
    )
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(-np.inf, dtype=np.float32), "tail_neg_inf"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "tail_axis_1"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), "tail_start"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "tail_one"),
        ]
    )
    nodes = [
        # Seen items: -inf for rows that asked for it, the unchanged score for the others.
        helper.make_node("GatherElements", [SCORES_IN, "history"], ["tail_history_scores"], axis=1),
        helper.make_node("Unsqueeze", ["exclude_seen", "tail_axis_1"], ["tail_seen_flag"]),
        helper.make_node(
            "Where", ["tail_seen_flag", "tail_neg_inf", "tail_history_scores"], ["tail_seen_values"]
        ),
        helper.make_node(
            "ScatterElements",
            [SCORES_IN, "history", "tail_seen_values"],
            ["tail_seen_masked"],
            axis=1,
        ),
        # Extra exclusions plus index 0 (padding, never a recommendation): one more scatter.
        helper.make_node("Shape", ["exclude"], ["tail_exclude_shape"]),
        helper.make_node("Slice", ["tail_exclude_shape", "tail_start", "tail_one"], ["tail_batch"]),
        helper.make_node("Concat", ["tail_batch", "tail_one"], ["tail_pad_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape",
            ["tail_pad_shape"],
            ["tail_pad_index"],
            value=helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
        ),
        helper.make_node("Concat", ["exclude", "tail_pad_index"], ["tail_masked_items"], axis=1),
        helper.make_node("Shape", ["tail_masked_items"], ["tail_masked_shape"]),
        helper.make_node("Expand", ["tail_neg_inf", "tail_masked_shape"], ["tail_masked_values"]),
        helper.make_node(
            "ScatterElements",
            ["tail_seen_masked", "tail_masked_items", "tail_masked_values"],
            ["tail_masked"],
            axis=1,
        ),
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
