"""The CUDA code paths (IO binding, one CUDA graph per bucket) checked on CPU, and their gating."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from service.inference.session import (
    CPU,
    BoundRunner,
    GraphRunner,
    OnnxSession,
    SessionConfig,
)


def _inputs(rows: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    history = rng.integers(1, 51, size=(rows, length)).astype(np.int64)
    history[0, :2] = 0  # left padding in one row
    seen = rng.random(rows) > 0.5
    exclude = rng.integers(0, 51, size=(rows, 3)).astype(np.int64)
    return history, seen, exclude


@pytest.fixture
def session(bundle_dir: Path) -> OnnxSession:
    return OnnxSession(bundle_dir / "model.onnx", SessionConfig("cpu", intra_op_threads=1))


def test_cuda_options_on_cpu_keep_the_plain_run_path(
    bundle_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = SessionConfig("auto", intra_op_threads=1, cuda_graphs=True)
    with caplog.at_level(logging.INFO, logger="service.inference.session"):
        session = OnnxSession(bundle_dir / "model.onnx", config)
    assert session.providers == [CPU]
    assert session.cuda_graphs is False
    assert session._runner is None
    assert "CUDA provider only" in caplog.text


def test_io_binding_runner_matches_plain_run(session: OnnxSession) -> None:
    history, seen, exclude = _inputs(5, 12)
    want = session.run(history, 7, seen, exclude)
    got = BoundRunner(session._session, "cpu").run(history, 7, seen, exclude)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_graph_runner_pads_to_fixed_shapes_and_slices_back(session: OnnxSession) -> None:
    config = SessionConfig(graph_batch=8, graph_buckets=(4, 16), graph_exclude_width=4, graph_k=10)
    runner = GraphRunner(session._session, config, "cpu")  # the CUDA runner, on CPU buffers
    for rows, length, k in ((3, 16, 5), (8, 4, 10), (2, 16, 10), (3, 12, 5), (9, 16, 5)):
        history, seen, exclude = _inputs(rows, length, seed=rows * length)
        want = session.run(history, k, seen, exclude)
        got = runner.run(history, k, seen, exclude)
        assert got[0].shape == (rows, k)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
        np.testing.assert_array_equal(got[1], want[1])
    # captured slots only for bucket lengths within the batch limit; 12 and 9 rows fall back
    assert sorted(runner._slots) == [4, 16]


def test_graph_runner_skips_capture_for_unbucketed_shapes(session: OnnxSession) -> None:
    config = SessionConfig(graph_batch=4, graph_buckets=(8,), graph_exclude_width=2, graph_k=5)
    runner = GraphRunner(session._session, config, "cpu")
    history, seen, exclude = _inputs(2, 8)  # exclude width 3 > 2: uncaptured run
    scores, _ = runner.run(history, 5, seen, exclude)
    assert scores.shape == (2, 5)
    assert runner._slots == {}
