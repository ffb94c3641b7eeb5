"""Shared field types and the configurable request-limit checks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from service.core.config import Settings
from service.core.errors import ApiError

# Printable: no C0/C1 control characters, no whitespace, no DEL.
ID_PATTERN = r"^[^\x00-\x20\x7f-\x9f]+$"
# A hard upper bound in the type; the configurable PAAREC_MAX_ID_LENGTH is checked by limit_errors.
HARD_MAX_ID_LENGTH = 1024

ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=HARD_MAX_ID_LENGTH, pattern=ID_PATTERN)
]


class StrictModel(BaseModel):
    """Request bodies: unknown fields refused, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


FieldErrors = list[tuple[str, str]]


def id_errors(field: str, values: Iterable[str], settings: Settings) -> FieldErrors:
    """Ids longer than PAAREC_MAX_ID_LENGTH."""
    limit = settings.max_id_length
    return [
        (field if isinstance(values, str) else f"{field}[{i}]", f"longer than {limit} characters")
        for i, v in enumerate([values] if isinstance(values, str) else values)
        if len(v) > limit
    ]


def count_errors(field: str, values: Sequence[object] | None, limit: int) -> FieldErrors:
    """A list longer than its configured limit."""
    if values is not None and len(values) > limit:
        return [(field, f"at most {limit} entries allowed, got {len(values)}")]
    return []


def raise_if(errors: FieldErrors) -> None:
    """Answer 422 naming every offending field."""
    if errors:
        raise ApiError(422, "validation_error", "request failed validation", errors)
