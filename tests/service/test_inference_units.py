"""Bundle validation, the ORT session wrapper and the fake graph's parity with numpy."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from service.core.logging import JsonFormatter, request_id_var
from service.inference.bundle import BundleError, load_bundle
from service.inference.session import CPU, CUDA, OnnxSession, SessionConfig, choose_providers
from tests.utils.fake_bundle import fake_embeddings, make_fake_bundle, reference_scores


def test_bundle_loads_vocab_popularity_and_titles(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir)
    assert (bundle.version, bundle.n_items, bundle.max_len, bundle.max_k) == ("fake-1", 50, 20, 20)
    assert bundle.encode(["item3", "nope", "item1"]) == [3, 1]
    assert bundle.item_id(3) == "item3"
    assert bundle.title(3) == "Title 3"
    assert bundle.popular_order[:3].tolist() == [1, 2, 3]


def test_bundle_without_titles(tmp_path: Path) -> None:
    bundle = load_bundle(make_fake_bundle(tmp_path, titles=False))
    assert bundle.titles is None
    assert bundle.title(1) is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(schema_version=2), "unsupported schema_version"),
        (lambda m: m.update(n_items=49), "items.npy must be"),
        (lambda m: m["onnx"].update(sha256="0" * 64), "sha256 mismatch"),
        (lambda m: m["onnx"].update(file="../model.onnx"), "onnx file missing"),
        (lambda m: m["model"].pop("max_len"), "model.max_len"),
    ],
)
def test_bundle_inconsistencies_are_named(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make_fake_bundle(tmp_path)
    meta = json.loads((path / "bundle.json").read_text())
    edit(meta)
    (path / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


def test_provider_choice_puts_cuda_first_only_when_allowed() -> None:
    assert choose_providers("auto", [CUDA, CPU]) == [CUDA, CPU]
    assert choose_providers("cpu", [CUDA, CPU]) == [CPU]
    assert choose_providers("auto", [CPU]) == [CPU]
    assert choose_providers("cuda", [CPU]) == [CPU]


def test_the_session_wrapper_runs_the_bundle_contract_exactly(tmp_path: Path) -> None:
    # A hand-built graph with known embeddings, so every score can be checked by numpy.
    bundle_dir = make_fake_bundle(tmp_path / "fake")
    session = OnnxSession(
        bundle_dir / "model.onnx", SessionConfig(intra_op_threads=1, allow_spinning=False)
    )
    assert session.providers == [CPU]
    emb = fake_embeddings(50)
    rows = [
        ([0, 0, 3, 5], True, [7, 0]),
        ([1, 2, 3, 4], False, [0, 0]),
        ([0, 0, 0, 9], True, [9, 10]),
    ]
    history = np.array([r[0] for r in rows], np.int64)
    exclude = np.array([r[2] for r in rows], np.int64)
    seen = np.array([r[1] for r in rows])
    scores, items = session.run(history, 50, seen, exclude)
    for row, (hist, exclude_seen, excl) in enumerate(rows):
        ref = reference_scores(emb, hist, exclude_seen, excl)
        finite = np.isfinite(scores[row])
        got = scores[row][finite]
        np.testing.assert_allclose(got, ref[items[row][finite]], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(
            scores[row][finite], np.sort(ref[np.isfinite(ref)])[::-1], rtol=1e-5, atol=1e-5
        )
        assert 0 not in items[row][finite]


def test_json_logs_carry_the_request_id() -> None:
    token = request_id_var.set("rid-1")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("w",), None)
        record.status = 200
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello w"
    assert line["request_id"] == "rid-1"
    assert line["status"] == 200
