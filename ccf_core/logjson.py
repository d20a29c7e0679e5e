"""One JSON log line per record, for the runner in a container and for the backend's Lambdas.

This is only a formatter: ccf_core configures no handler; the programs that log (``ccf-run``, the
Lambda handlers) install it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

#: The attributes every ``LogRecord`` has; anything else on a record came from ``extra=``.
RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``ts``, ``level``, ``logger``, ``message``, then :meth:`fields`, then any exception."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record's own fields: what ``extra=`` (or a filter) put on it."""
        return {
            key: value
            for key, value in vars(record).items()
            if key not in RECORD_ATTRIBUTES and not key.startswith("_")
        }

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(self.fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        return self.dumps(data)

    def dumps(self, data: dict[str, Any]) -> str:
        """The line's JSON text (values JSON does not know are written as ``str()`` gives them)."""
        return json.dumps(data, default=str, ensure_ascii=False)
