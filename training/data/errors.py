"""The one exception type the data layer raises for input it cannot use.

Callers (the CLI, tests) catch a single type and show its message as is, so every message
names the file and, where it makes sense, the line, row or column at fault.
"""

from __future__ import annotations

from training.errors import UserError


class DataError(UserError):
    """Malformed, missing or unusable input data; the message says where and why."""
