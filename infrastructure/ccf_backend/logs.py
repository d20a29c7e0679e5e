"""Structured JSON logs: one object per line, with the request's connector id and job id.

The handler binds ``operation``, ``request_id``, ``connector_id`` and ``job_id`` for the request;
every line logged meanwhile through the ``ccf_backend`` loggers carries them. Request bodies are
never logged (they may hold checkpoint data or environment values).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "ccf_log_context", default=None
)
_LOGGER_NAME = "ccf_backend"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object with the bound request fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context.get() or {})
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StandardStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is at the time (test capture swaps them)."""

    def __init__(self, name: str) -> None:
        self._stream_name = name
        super().__init__()

    @property
    def stream(self) -> Any:
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, value: Any) -> None:
        """Ignored: the stream is always the current standard stream."""


def configure(level: int = logging.INFO, stream: Any = None) -> None:
    """Send the backend's logs as JSON to ``stream`` (default: the current stdout); idempotent."""
    logger = logging.getLogger(_LOGGER_NAME)
    if any(getattr(handler, "_ccf_json", False) for handler in logger.handlers):
        return
    handler: logging.Handler
    if stream is None or stream in (sys.stdout, sys.stderr):
        handler = _StandardStreamHandler("stderr" if stream is sys.stderr else "stdout")
    else:
        handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler._ccf_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log line written inside the block."""
    current = dict(_context.get() or {})
    current.update({name: value for name, value in fields.items() if value is not None})
    token = _context.set(current)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add ``fields`` to the current block's log lines (e.g. the job id once it is known)."""
    current = dict(_context.get() or {})
    current.update({name: value for name, value in fields.items() if value is not None})
    _context.set(current)
