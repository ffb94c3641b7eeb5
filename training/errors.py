"""The errors a user can cause, reported by the CLI as one line instead of a traceback."""

from __future__ import annotations

from training.checkpoint import CheckpointError
from training.config import ConfigError
from training.data.errors import DataError

try:
    from export.bundle import ExportError
except ImportError:  # the export extra is optional
    ExportError = CheckpointError  # type: ignore[misc,assignment]

USER_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    ExportError,
    DataError,
    CheckpointError,
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
)
