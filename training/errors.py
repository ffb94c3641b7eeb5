"""The errors a user can cause, reported by the CLI as one line instead of a traceback.

Every such error of the project derives from ``UserError``: a bad config, a malformed data
file, a broken checkpoint, an export that cannot be done. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from the user; the message names the file, key, line or column."""


USER_ERRORS: tuple[type[Exception], ...] = (
    UserError,
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
)
