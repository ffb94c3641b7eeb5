"""The error body of every non-2xx answer, declared so that ``/openapi.json`` documents it.

Without these declarations FastAPI advertises its own ``HTTPValidationError`` (``detail``) for
422, a shape this service never sends, and no error shape at all for the other statuses.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    reason: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    fields: list[FieldError] = []  # omitted when the error is not about particular fields


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


_WHEN = {
    400: "The body is not valid JSON.",
    401: "X-API-Key is missing or wrong.",
    403: "Not allowed (for example admin routes without PAAREC_ADMIN_API_KEY).",
    413: "The body is larger than PAAREC_MAX_BODY_BYTES.",
    422: "A field failed validation; `fields` names each one and the reason.",
    503: "Redis, the model or the inference queue cannot serve this now; retry later.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a route or router for these error statuses."""
    return {status: {"model": ErrorResponse, "description": _WHEN[status]} for status in statuses}
