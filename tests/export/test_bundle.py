"""export_bundle: the bundle's files and metadata, atomic writes, and clear errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from export import bundle as bundle_module
from export.bundle import ExportError, ExportOptions, export_bundle
from export.verify import ParityReport
from tests.export.conftest import MAX_K, MAX_LEN, N_ITEMS, ExportedFactory
from tests.utils.tiny_models import ALL_VARIANTS, make_tiny_checkpoint
from training.checkpoint import CheckpointError

BUNDLE_FILES = {"bundle.json", "model.onnx", "items.npy", "popularity.npy", "titles.npy"}


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-block model: the cheapest checkpoint that exports."""
    root = tmp_path_factory.mktemp("small")
    return make_tiny_checkpoint(root / "checkpoint", "nope", 20, 4, blocks=1)


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def failing_parity(*args: object, **kwargs: object) -> ParityReport:
    return ParityReport(tolerance=1e-4, max_abs_diff=1.0, failures=["forced mismatch"])


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_bundle_files_and_metadata_follow_the_contract(
    exported: ExportedFactory, variant: str
) -> None:
    bundle = exported(variant)
    assert set(listing(bundle.bundle)) == BUNDLE_FILES
    meta = json.loads((bundle.bundle / "bundle.json").read_text())
    assert meta == bundle.result.metadata
    onnx_sha = hashlib.sha256((bundle.bundle / "model.onnx").read_bytes()).hexdigest()
    weights_sha = hashlib.sha256((bundle.checkpoint / "model.safetensors").read_bytes())
    model = meta["model"]
    assert model["name"] == f"tiny-{variant}"
    assert model["version"] == onnx_sha[:12]
    assert model["variant"] == variant
    assert (model["max_len"], model["hidden"], model["blocks"], model["heads"]) == (
        MAX_LEN,
        16,
        2,
        1,
    )
    assert model["arch"] == ("paa" if variant.startswith("paa") else variant)
    assert meta["onnx"]["sha256"] == onnx_sha and meta["onnx"]["file"] == "model.onnx"
    assert meta["checkpoint_sha256"] == weights_sha.hexdigest()
    assert (meta["schema_version"], meta["n_items"], meta["max_k"]) == (1, N_ITEMS, MAX_K)
    assert meta["has_titles"] is True
    assert meta["metrics"] == {"ndcg@10": 0.5, "hr@10": 0.75}
    assert meta["parity"]["max_abs_diff"] < 1e-4 and meta["parity"]["topk_agreement"] == 1.0
    items = np.load(bundle.bundle / "items.npy", allow_pickle=False)
    popularity = np.load(bundle.bundle / "popularity.npy", allow_pickle=False)
    titles = np.load(bundle.bundle / "titles.npy", allow_pickle=False)
    assert items.tolist() == ["", *(f"item{i}" for i in range(1, N_ITEMS + 1))]
    assert popularity.dtype == np.int64 and len(popularity) == N_ITEMS + 1
    assert len(titles) == N_ITEMS + 1 and titles[1] == "Title 1"


def test_an_export_that_fails_verification_leaves_nothing_behind(
    small_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_module, "verify_parity", failing_parity)
    with pytest.raises(ExportError, match="does not match PyTorch: forced mismatch"):
        export_bundle(small_checkpoint, tmp_path / "bundle", ExportOptions(max_k=5))
    assert listing(tmp_path) == []  # neither the bundle nor a staging folder


def test_a_failed_re_export_keeps_the_previous_bundle_intact(
    exported: ExportedFactory,
    small_checkpoint: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = Path(shutil.copytree(exported("nope").bundle, tmp_path / "bundle"))
    before = {name: (out / name).read_bytes() for name in listing(out)}
    monkeypatch.setattr(bundle_module, "verify_parity", failing_parity)
    with pytest.raises(ExportError, match="forced mismatch"):
        export_bundle(small_checkpoint, out, ExportOptions(max_k=3))
    assert {name: (out / name).read_bytes() for name in listing(out)} == before
    assert listing(tmp_path) == ["bundle"]


def test_a_successful_re_export_replaces_the_bundle_without_leftovers(
    small_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    (out / "stale").mkdir(parents=True)
    (out / "stale" / "file").write_text("from an older export")
    (out / "bundle.json").write_text("{}")
    export_bundle(small_checkpoint, out, ExportOptions(max_k=3, name="renamed"))
    assert json.loads((out / "bundle.json").read_text())["model"]["name"] == "renamed"
    assert "stale" not in listing(out)
    assert listing(tmp_path) == ["bundle"]


def test_a_non_empty_folder_that_is_not_a_bundle_is_never_replaced(
    small_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("not a bundle")
    with pytest.raises(ExportError, match="not empty and holds no bundle"):
        export_bundle(small_checkpoint, out, ExportOptions(max_k=3))
    assert listing(out) == ["notes.txt"]
    assert listing(tmp_path) == ["precious"]


@pytest.mark.parametrize("max_k", [0, 21])
def test_a_max_k_outside_the_catalogue_is_refused(
    small_checkpoint: Path, tmp_path: Path, max_k: int
) -> None:
    with pytest.raises(ExportError, match=f"between 1 and the catalogue size 20, got {max_k}"):
        export_bundle(small_checkpoint, tmp_path / "bundle", ExportOptions(max_k=max_k))
    assert listing(tmp_path) == []


def test_an_output_path_that_is_a_file_is_refused(small_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "bundle").write_text("not a folder")
    with pytest.raises(ExportError, match="exists and is not a folder"):
        export_bundle(small_checkpoint, tmp_path / "bundle", ExportOptions(max_k=5))


def test_an_output_path_below_a_file_is_refused(small_checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    out = tmp_path / "afile" / "bundle"
    with pytest.raises(ExportError, match=f"cannot write the bundle to {out}"):
        export_bundle(small_checkpoint, out, ExportOptions(max_k=5))


def test_a_missing_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        export_bundle(tmp_path / "nothing", tmp_path / "bundle", ExportOptions(max_k=5))
    assert listing(tmp_path) == []


def test_a_corrupt_checkpoint_is_refused(small_checkpoint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in small_checkpoint.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="is corrupt"):
        export_bundle(broken, tmp_path / "bundle", ExportOptions(max_k=5))
    assert listing(tmp_path) == ["broken"]


def test_a_small_catalogue_exports(tmp_path: Path) -> None:
    checkpoint = make_tiny_checkpoint(tmp_path / "checkpoint", "nope", 6, 4, blocks=1)
    export_bundle(checkpoint, tmp_path / "bundle", ExportOptions(max_k=5))
