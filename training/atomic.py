"""Atomic replacement of an output folder (checkpoints, bundles)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_dir(staging: Path, target: Path) -> None:
    """Move the finished ``staging`` folder to ``target``.

    An existing ``target`` is renamed aside before the new one moves in and is put back if that
    fails, so ``target`` never holds a half-written folder and a failed swap keeps the old one.
    """
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, retired)
        try:
            os.replace(staging, target)
        except BaseException:
            os.replace(retired, target)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)
