"""The errors an operation raises on purpose; each becomes an ErrorResponseModel with its status.

Anything else that escapes an operation is a fault: the handler logs it with its traceback and
answers 500 with a generic message, never the exception's text.
"""

from __future__ import annotations

from pydantic import ValidationError

from ccf_core.api.models import ERROR_STATUS, ErrorType

#: The spec allows messages of at most this many characters.
MAX_MESSAGE_LENGTH = 1024


class ApiError(Exception):
    """An error with an error type (its code), an HTTP status and a message a client can act on."""

    error_type: ErrorType = ErrorType.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = (
            message if len(message) <= MAX_MESSAGE_LENGTH else message[: MAX_MESSAGE_LENGTH - 3] + "..."
        )
        self.field = field

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return ERROR_STATUS[self.error_type]

    def body(self) -> dict[str, str]:
        """The JSON body: ``message``, ``errorType``, ``__type`` (for botocore), and ``field`` if known."""
        body = {"message": self.message, "errorType": self.error_type.value, "__type": self.error_type.value}
        if self.field is not None:
            body["field"] = self.field
        return body


class BadRequest(ApiError):
    """The request is invalid; ``field`` names what is wrong."""

    error_type = ErrorType.BAD_REQUEST

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field=field)

    @classmethod
    def from_validation(cls, err: ValidationError, prefix: str = "") -> BadRequest:
        """Turn a pydantic error into one 400 listing every ``field: problem``."""
        problems = [(_location(error["loc"], prefix), _problem(error)) for error in err.errors()]
        first_field = problems[0][0] if problems else prefix or "body"
        found = cls(first_field, problems[0][1] if problems else "invalid")
        found.message = "; ".join(f"{field}: {problem}" for field, problem in problems)[:MAX_MESSAGE_LENGTH]
        return found


class Unauthorized(ApiError):
    """The request carries no caller identity."""

    error_type = ErrorType.UNAUTHORIZED


class NotFound(ApiError):
    """The connector, job, checkpoint or route does not exist."""

    error_type = ErrorType.NOT_FOUND


class MethodNotAllowed(ApiError):
    """The path exists, but no operation has this method; ``allowed`` lists the ones it has."""

    error_type = ErrorType.METHOD_NOT_ALLOWED

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class Conflict(ApiError):
    """The resource is in a state that does not allow the operation."""

    error_type = ErrorType.CONFLICT


class Throttled(ApiError):
    """Too many requests (DynamoDB throttled us); retry with backoff."""

    error_type = ErrorType.THROTTLING


class InternalError(ApiError):
    """A fault; the message never carries internal details."""

    error_type = ErrorType.INTERNAL


def _location(loc: tuple[int | str, ...], prefix: str) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith(("function-after", "function-before", "function-wrap")):
            continue
        else:
            text = f"{text}.{part}" if text else str(part)
    return text or "body"


def _problem(error: object) -> str:
    assert isinstance(error, dict)
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")
