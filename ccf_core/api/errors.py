"""Errors the CCF API answered with, as ccf exceptions (the thick client raises these)."""

from __future__ import annotations

from typing import Any

from ccf_core.errors import CCFError


class CCFApiError(CCFError):
    """The CCF API refused a request; ``code`` is its error type, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None, field: str | None = None) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        super().__init__(f"{code}: {message}" if message else code)


class ApiRequestInvalid(CCFApiError):
    """400: the request was invalid; ``field`` names what is wrong."""


class ApiResourceNotFound(CCFApiError):
    """404: the connector, job or checkpoint does not exist."""


class ApiConflict(CCFApiError):
    """409: the connector or job is in a state that does not allow the operation."""


class ApiThrottled(CCFApiError):
    """429: too many requests, even after the client's retries."""


_BY_CODE: dict[str, type[CCFApiError]] = {
    "BadRequestException": ApiRequestInvalid,
    "ResourceNotFoundException": ApiResourceNotFound,
    "ConflictException": ApiConflict,
    "ThrottlingException": ApiThrottled,
}


def from_client_error(err: Any) -> CCFApiError:
    """The ccf exception for a botocore ``ClientError`` from the ``ccf`` client."""
    response = getattr(err, "response", {}) or {}
    error = response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    field = error.get("field")
    return _BY_CODE.get(code, CCFApiError)(code, str(error.get("Message") or ""), status, field)
