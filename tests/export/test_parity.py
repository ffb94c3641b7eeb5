"""Every variant's exported graph against the PyTorch reference, through ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from export.reference import reference_topk
from tests.export.conftest import MAX_K, MAX_LEN, N_ITEMS, Exported, ExportedFactory
from tests.utils.tiny_models import ALL_VARIANTS, random_histories


@pytest.fixture(params=ALL_VARIANTS)
def bundle(request: pytest.FixtureRequest, exported: ExportedFactory) -> Exported:
    return exported(str(request.param))


def feeds(history: np.ndarray, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs with random ``exclude_seen`` flags and 0-padded ``exclude`` lists."""
    rng = np.random.default_rng(seed)
    batch = len(history)
    exclude = rng.integers(1, N_ITEMS + 1, (batch, 3)) * (rng.random((batch, 3)) < 0.6)
    return {
        "history": history,
        "k": np.array([k], dtype=np.int64),
        "exclude_seen": np.arange(batch) % 2 == 0,  # both settings in every batch of 2+
        "exclude": exclude.astype(np.int64),
    }


def run(bundle: Exported, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    scores, items = bundle.session.run(["scores", "items"], inputs)
    return scores, items


def test_onnx_checker_accepts_the_graph(bundle: Exported) -> None:
    onnx.checker.check_model(bundle.graph, full_check=True)


@pytest.mark.parametrize("length", [1, MAX_LEN // 2, MAX_LEN])
@pytest.mark.parametrize("batch", [1, 5])
def test_onnx_runtime_matches_the_pytorch_reference(
    bundle: Exported, length: int, batch: int
) -> None:
    history = random_histories(N_ITEMS, batch, length, seed=length * 10 + batch).numpy()
    inputs = feeds(history, MAX_K, seed=batch)
    scores, items = run(bundle, inputs)
    ref_scores, ref_items = reference_topk(
        bundle.model, history, MAX_K, inputs["exclude_seen"], inputs["exclude"]
    )
    assert scores.shape == items.shape == (batch, MAX_K)
    assert scores.dtype == np.float32 and items.dtype == np.int64
    assert np.isfinite(ref_scores).all()  # the catalogue is large enough for K
    assert np.abs(scores - ref_scores).max() < 1e-4
    for row in range(batch):
        assert set(items[row].tolist()) == set(ref_items[row].tolist()), f"row {row}"
    assert (np.diff(scores, axis=1) <= 0).all()  # sorted by descending score


def test_padding_and_excluded_items_are_never_returned(bundle: Exported) -> None:
    history = random_histories(N_ITEMS, 6, MAX_LEN, seed=3).numpy()
    inputs = feeds(history, MAX_K, seed=4)
    _, items = run(bundle, inputs)
    for row in range(len(history)):
        returned = set(items[row].tolist())
        assert 0 not in returned
        assert not returned & (set(inputs["exclude"][row].tolist()) - {0})
        if inputs["exclude_seen"][row]:
            assert not returned & set(history[row].tolist())


def test_exclude_seen_false_can_return_history_items(bundle: Exported) -> None:
    """Without ``exclude_seen`` the history is ranked like any other item (here: all items)."""
    history = np.arange(1, MAX_LEN + 1, dtype=np.int64)[None, :]
    inputs = {
        "history": history,
        "k": np.array([N_ITEMS], dtype=np.int64),
        "exclude_seen": np.array([False]),
        "exclude": np.zeros((1, 1), dtype=np.int64),
    }
    scores, items = run(bundle, inputs)
    assert sorted(items[0].tolist()) == list(range(1, N_ITEMS + 1))
    assert np.isfinite(scores).all()


def test_k_beyond_the_unmasked_catalogue_ranks_padding_and_masked_items_last(
    bundle: Exported,
) -> None:
    history = np.arange(1, MAX_LEN + 1, dtype=np.int64)[None, :]
    exclude = np.arange(MAX_LEN + 1, N_ITEMS - 1, dtype=np.int64)[None, :]  # leaves 2 items
    inputs = {
        "history": history,
        "k": np.array([5], dtype=np.int64),
        "exclude_seen": np.array([True]),
        "exclude": exclude,
    }
    scores, items = run(bundle, inputs)
    assert set(items[0, :2].tolist()) == {N_ITEMS - 1, N_ITEMS}
    assert np.isfinite(scores[0, :2]).all()
    assert np.isneginf(scores[0, 2:]).all()  # a caller drops these


def test_k_is_a_runtime_input(bundle: Exported) -> None:
    history = random_histories(N_ITEMS, 3, MAX_LEN, seed=9).numpy()
    top1_scores, top1 = run(bundle, feeds(history, 1))
    all_scores, top_all = run(bundle, feeds(history, MAX_K))
    assert top1.shape == (3, 1) and top_all.shape == (3, MAX_K)
    assert np.array_equal(top1[:, 0], top_all[:, 0])
    np.testing.assert_allclose(top1_scores[:, 0], all_scores[:, 0], atol=1e-6)


def test_the_graph_inputs_and_outputs_follow_the_contract(bundle: Exported) -> None:
    def signature(values: list[onnx.ValueInfoProto]) -> list[tuple[str, int, int]]:
        return [
            (v.name, v.type.tensor_type.elem_type, len(v.type.tensor_type.shape.dim))
            for v in values
        ]

    int64, boolean, float32 = onnx.TensorProto.INT64, onnx.TensorProto.BOOL, onnx.TensorProto.FLOAT
    assert signature(list(bundle.graph.graph.input)) == [
        ("history", int64, 2),
        ("k", int64, 1),
        ("exclude_seen", boolean, 1),
        ("exclude", int64, 2),
    ]
    assert signature(list(bundle.graph.graph.output)) == [
        ("scores", float32, 2),
        ("items", int64, 2),
    ]
    history_dims = bundle.graph.graph.input[0].type.tensor_type.shape.dim
    assert all(dim.dim_param and not dim.dim_value for dim in history_dims)  # both dynamic
