"""Checksummed, atomic downloads into the dataset cache.

A file only ever appears under its final name complete and verified (temp file in the same
folder, then ``os.replace``), so an interrupted download or a crash never leaves a
half-written file that a later run would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from training.data.errors import DataError

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, sha256: str, label: str | None = None) -> None:
    """Raise DataError unless ``path`` has the expected sha256 (``label`` names it if given)."""
    actual = sha256_of(path)
    if actual != sha256.lower():
        raise DataError(f"{label or path}: sha256 mismatch (expected {sha256}, got {actual})")


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path next to ``target``; it replaces ``target`` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        temp.chmod(0o644)  # mkstemp creates 0600; the cache is ordinary shared data
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def download(url: str, target: Path, sha256: str, timeout: float) -> Path:
    """Fetch ``url`` to ``target`` and verify it; a failure leaves ``target`` untouched."""
    with atomic_path(target) as temp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, temp.open("wb") as out:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
        except (OSError, ValueError) as exc:  # URLError, timeouts and bad URLs
            raise DataError(f"download of {url} failed: {exc}") from exc
        verify(temp, sha256, label=url)
    return target
