"""The Triton model repository: config.pbtxt and a graph whose inputs are all batched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from export.triton import write_triton_repository
from tests.export.conftest import MAX_K, MAX_LEN, N_ITEMS, ExportedFactory
from tests.utils.tiny_models import random_histories


def test_triton_repository_has_a_batched_config_and_a_graph_without_k(
    exported: ExportedFactory, tmp_path: Path
) -> None:
    bundle = exported("paa")
    folder = write_triton_repository(bundle.graph, tmp_path / "repo", "paa-tiny", MAX_K)
    assert folder == tmp_path / "repo" / "paa-tiny"
    config = (folder / "config.pbtxt").read_text()
    assert 'name: "paa-tiny"' in config
    assert 'platform: "onnxruntime_onnx"' in config
    assert "dynamic_batching {" in config
    assert "max_batch_size: 64" in config
    assert config.count(f"dims: [ {MAX_K} ]") == 2  # scores and items
    assert 'name: "k"' not in config
    model = onnx.load(str(folder / "1" / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert [value.name for value in model.graph.input] == ["history", "exclude_seen", "exclude"]

    # Same answers as the bundle's graph asked for max K.
    history = random_histories(N_ITEMS, 4, MAX_LEN, seed=2).numpy()
    inputs = {
        "history": history,
        "exclude_seen": np.array([True, False, True, False]),
        "exclude": np.array([[1], [0], [3], [0]], dtype=np.int64),
    }
    triton = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    scores, items = triton.run(["scores", "items"], inputs)
    ref_scores, ref_items = bundle.session.run(
        ["scores", "items"], {**inputs, "k": np.array([MAX_K], dtype=np.int64)}
    )
    assert np.array_equal(items, ref_items)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-6)


def test_the_bundle_graph_is_left_unchanged(exported: ExportedFactory, tmp_path: Path) -> None:
    bundle = exported("nope")
    before = bundle.graph.SerializeToString()
    write_triton_repository(bundle.graph, tmp_path, "nope", MAX_K, gpu=False)
    assert bundle.graph.SerializeToString() == before
    assert "kind: KIND_CPU" in (tmp_path / "nope" / "config.pbtxt").read_text()
