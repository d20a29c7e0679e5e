"""Structured JSON logs: one object per line, with the request's connector id and job id.

The handler binds ``operation``, ``request_id``, ``connector_id`` and ``job_id`` for the request;
every line logged meanwhile through the ``ccf_backend`` loggers carries them. Request bodies are
never logged (they may hold checkpoint data or environment values).
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from ccf_core.logjson import JsonFormatter as BaseJsonFormatter

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "ccf_log_context", default=None
)
_LOGGER_NAME = "ccf_backend"


class JsonFormatter(BaseJsonFormatter):
    """A JSON line with the request fields bound by :func:`bind` and those given as ``fields=``."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The bound request fields (connector id, job id...), then the record's ``fields`` extra."""
        entry: dict[str, Any] = dict(_context.get() or {})
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        return entry

    def dumps(self, data: dict[str, Any]) -> str:
        """The line as JSON: orjson (a line per request; json was most of formatting it), else json."""
        try:
            return orjson.dumps(data, default=str).decode("utf-8")
        except orjson.JSONEncodeError:
            return super().dumps(data)


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
