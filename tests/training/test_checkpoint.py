"""Checkpoint folders: an exact save/load round trip, and clear errors for broken folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.utils.tiny_models import (
    ALL_VARIANTS,
    make_tiny_checkpoint,
    nudge_training,
    random_histories,
    tiny_model,
    tiny_vocab,
    zipf_popularity,
)
from training import atomic as atomic_module
from training import checkpoint as checkpoint_module
from training.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from training.config import RunConfig


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return make_tiny_checkpoint(tmp_path / "checkpoint", "paa", n_items=12, max_len=6)


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_save_then_load_gives_identical_scores_config_vocab_and_popularity(
    tmp_path: Path, variant: str
) -> None:
    model = tiny_model(variant, 12, max_len=6)
    nudge_training(model, steps=2)
    config = RunConfig(name="round-trip", model=model.settings)
    titles = np.array(["", *(f"Title {i}" for i in range(1, 13))])
    original = Checkpoint(model, config, tiny_vocab(12), zipf_popularity(12), {"a": 1}, titles)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "checkpoint", original))
    history = random_histories(12, batch=4, length=6, seed=0)
    with torch.no_grad():
        assert torch.equal(loaded.model.score_newest(history), model.score_newest(history))
    assert not loaded.model.training
    assert loaded.config == config
    assert loaded.vocab.items.tolist() == tiny_vocab(12).items.tolist()
    assert loaded.popularity.dtype == np.int64
    assert np.array_equal(loaded.popularity, zipf_popularity(12))
    assert loaded.titles is not None and loaded.titles.tolist() == titles.tolist()
    assert loaded.metrics == {"a": 1}


def test_saving_over_a_checkpoint_replaces_it_and_a_failed_save_keeps_the_old_one(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = (saved / "model.safetensors").read_bytes()

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        make_tiny_checkpoint(saved, "nope", n_items=12, max_len=6)
    assert (saved / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["checkpoint"]  # no staging left


def test_a_save_that_fails_while_swapping_folders_keeps_the_old_checkpoint(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real_replace = atomic_module.os.replace

    def failing_replace(source: str, target: str) -> None:
        calls.append(source)
        if len(calls) == 2:  # the old folder is already aside; moving the new one in fails
            raise OSError("rename failed")
        real_replace(source, target)

    monkeypatch.setattr(atomic_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="rename failed"):
        make_tiny_checkpoint(saved, "nope", n_items=12, max_len=6)
    monkeypatch.undo()
    assert load_checkpoint(saved).config.model.arch == "paa"
    assert sorted(p.name for p in saved.parent.iterdir()) == ["checkpoint"]


def test_loading_a_missing_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nowhere does not exist"):
        load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "missing", ["model.safetensors", "config.yaml", "items.npy", "popularity.npy"]
)
def test_loading_a_folder_without_a_required_file_names_the_file(saved: Path, missing: str) -> None:
    (saved / missing).unlink()
    with pytest.raises(CheckpointError, match=rf"incomplete: {missing} is missing"):
        load_checkpoint(saved)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_loading_corrupt_weights_says_the_weights_file_is_corrupt(saved: Path, damage: str) -> None:
    weights = saved / "model.safetensors"
    data = weights.read_bytes()
    corrupted = {
        "truncated": data[: len(data) // 2],
        "garbage": b"\x00\xffnot a safetensors file" * 10,
        "empty": b"",
    }[damage]
    weights.write_bytes(corrupted)
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupt"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    ("field", "value"),
    [("hidden", 32), ("blocks", 3), ("arch", "sasrec"), ("value_kernel", "toeplitz")],
)
def test_loading_a_config_that_does_not_match_the_weights_says_so(
    saved: Path, field: str, value: object
) -> None:
    tree = yaml.safe_load((saved / "config.yaml").read_text())
    tree["model"][field] = value
    (saved / "config.yaml").write_text(yaml.safe_dump(tree))
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not match its config"):
        load_checkpoint(saved)


def test_loading_a_config_with_another_item_count_says_so(saved: Path) -> None:
    tree = yaml.safe_load((saved / "config.yaml").read_text())
    tree["n_items"] = 99
    (saved / "config.yaml").write_text(yaml.safe_dump(tree))
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    "text", ["model: [unclosed", "- a list", "name: x\n", "n_items: 12\nmodel: {hiddn: 3}\n"]
)
def test_loading_an_invalid_config_names_the_config_file(saved: Path, text: str) -> None:
    (saved / "config.yaml").write_text(text)
    with pytest.raises(CheckpointError, match=r"config\.yaml is not a valid checkpoint config"):
        load_checkpoint(saved)


def test_loading_a_vocabulary_of_the_wrong_size_says_so(saved: Path) -> None:
    np.save(saved / "items.npy", np.array(["", "a", "b"]), allow_pickle=False)
    with pytest.raises(CheckpointError, match="vocabulary size does not match n_items=12"):
        load_checkpoint(saved)


def test_loading_a_pickled_vocabulary_is_refused(saved: Path) -> None:
    np.save(saved / "items.npy", np.array([None, "a"], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match="unreadable vocabulary file"):
        load_checkpoint(saved)


def test_loading_a_corrupt_metrics_file_names_the_file(saved: Path) -> None:
    (saved / "metrics.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"metrics\.json"):
        load_checkpoint(saved)


def test_a_folder_copied_elsewhere_still_loads(saved: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(saved, tmp_path / "moved"))
    assert load_checkpoint(copy).model.n_items == 12
