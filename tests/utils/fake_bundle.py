"""A tiny bundle that honours docs/architecture.md, built with onnx.helper (no torch).

The graph scores items by the mean embedding of the history (padding ignored) dotted with
every item embedding, masks padding, the row's own history (when exclude_seen) and the
``exclude`` indices with -inf, then takes TopK with the ``k`` input.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _graph(emb: np.ndarray) -> onnx.ModelProto:
    n1, _ = emb.shape  # N + 1 rows, row 0 = padding
    init = [
        numpy_helper.from_array(emb, "E"),
        numpy_helper.from_array(np.ascontiguousarray(emb.T), "ET"),
        numpy_helper.from_array(np.arange(n1, dtype=np.int64).reshape(1, 1, n1), "ar"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "ax1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "ax2"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), "zero_i"),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero_f"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one_f"),
        numpy_helper.from_array(np.array(-np.inf, dtype=np.float32), "ninf"),
    ]
    N = helper.make_node
    nodes = [
        # mean of the history embeddings, padding (index 0, zero vector) not counted
        N("Gather", ["E", "history"], ["emb"]),  # (B, L, H)
        N("ReduceSum", ["emb", "ax1"], ["emb_sum"], keepdims=0),  # (B, H)
        N("Greater", ["history", "zero_i"], ["real"]),
        N("Cast", ["real"], ["real_f"], to=TensorProto.FLOAT),
        N("ReduceSum", ["real_f", "ax1"], ["count"], keepdims=1),  # (B, 1)
        N("Max", ["count", "one_f"], ["count1"]),
        N("Div", ["emb_sum", "count1"], ["mean"]),
        N("MatMul", ["mean", "ET"], ["raw"]),  # (B, N + 1)
        # seen mask: one-hot compare of history against every index
        N("Unsqueeze", ["history", "ax2"], ["h3"]),  # (B, L, 1)
        N("Equal", ["h3", "ar"], ["h_hot"]),  # (B, L, N + 1)
        N("Cast", ["h_hot"], ["h_hot_f"], to=TensorProto.FLOAT),
        N("ReduceSum", ["h_hot_f", "ax1"], ["seen_cnt"], keepdims=0),  # (B, N + 1)
        N("Greater", ["seen_cnt", "zero_f"], ["seen"]),
        N("Unsqueeze", ["exclude_seen", "ax1"], ["es2"]),  # (B, 1)
        N("And", ["seen", "es2"], ["seen_mask"]),
        # extra exclusions
        N("Unsqueeze", ["exclude", "ax2"], ["x3"]),
        N("Equal", ["x3", "ar"], ["x_hot"]),
        N("Cast", ["x_hot"], ["x_hot_f"], to=TensorProto.FLOAT),
        N("ReduceSum", ["x_hot_f", "ax1"], ["x_cnt"], keepdims=0),
        N("Greater", ["x_cnt", "zero_f"], ["x_mask"]),
        # padding index 0 (ar[..., 0] == 0)
        N("Squeeze", ["ar", "ax1"], ["ar2"]),  # (1, N + 1)
        N("Equal", ["ar2", "zero_i"], ["pad_mask"]),
        N("Or", ["seen_mask", "x_mask"], ["m1"]),
        N("Or", ["m1", "pad_mask"], ["mask"]),
        N("Where", ["mask", "ninf", "raw"], ["masked"]),
        N("TopK", ["masked", "k"], ["scores", "items"], axis=-1, largest=1, sorted=1),
    ]
    graph = helper.make_graph(
        nodes,
        "fake_paarec",
        [
            helper.make_tensor_value_info("history", TensorProto.INT64, ["batch", "length"]),
            helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("exclude_seen", TensorProto.BOOL, ["batch"]),
            helper.make_tensor_value_info("exclude", TensorProto.INT64, ["batch", "n_exclude"]),
        ],
        [
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "k"]),
            helper.make_tensor_value_info("items", TensorProto.INT64, ["batch", "k"]),
        ],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def fake_embeddings(n_items: int, hidden: int = 16, seed: int = 0) -> np.ndarray:
    """(N + 1, H) float32 item embeddings with a zero padding row."""
    emb = np.random.default_rng(seed).standard_normal((n_items + 1, hidden)).astype(np.float32)
    emb[0] = 0.0
    return emb


def make_fake_bundle(
    path: Path,
    n_items: int = 50,
    max_len: int = 20,
    max_k: int = 20,
    titles: bool = True,
    *,
    version: str = "fake-1",
    seed: int = 0,
    hidden: int = 16,
) -> Path:
    """Write a complete bundle folder at ``path`` and return it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    emb = fake_embeddings(n_items, hidden, seed)
    onnx_path = path / "model.onnx"
    onnx.save(_graph(emb), str(onnx_path))
    items = np.array(["", *(f"item{i}" for i in range(1, n_items + 1))])
    # Zipf-ish counts so the popular fallback has a clear order: item1 most popular.
    popularity = np.array([0, *(1000 // i for i in range(1, n_items + 1))], dtype=np.int64)
    np.save(path / "items.npy", items, allow_pickle=False)
    np.save(path / "popularity.npy", popularity, allow_pickle=False)
    if titles:
        names = np.array(["", *(f"Title {i}" for i in range(1, n_items + 1))])
        np.save(path / "titles.npy", names, allow_pickle=False)
    meta = {
        "schema_version": 1,
        "model": {
            "name": "fake-paa",
            "version": version,
            "arch": "mean-embedding",
            "variant": "fake",
            "max_len": max_len,
            "hidden": hidden,
            "blocks": 0,
            "heads": 0,
        },
        "created_at": "2024-01-01T00:00:00Z",
        "onnx": {
            "file": onnx_path.name,
            "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
            "opset": OPSET,
        },
        "checkpoint_sha256": "0" * 64,
        "n_items": n_items,
        "max_k": max_k,
        "metrics": {},
        "has_titles": titles,
    }
    (path / "bundle.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def reference_scores(
    emb: np.ndarray, history: list[int], exclude_seen: bool, exclude: list[int]
) -> np.ndarray:
    """Numpy reference of the fake graph for one row: (N + 1,) scores with -inf masks."""
    real = [i for i in history if i > 0]
    mean = emb[real].sum(axis=0) / max(1, len(real))
    scores = (emb @ mean).astype(np.float32)
    scores[0] = -np.inf
    if exclude_seen:
        scores[real] = -np.inf
    scores[[i for i in exclude if i > 0]] = -np.inf
    return scores
