"""Logging for the runner: text on a terminal, JSON lines elsewhere, secrets masked, all on stderr.

Only the runner configures handlers (library code just logs). Every line carries the connector
and run id once :func:`log_context` has set them, and any string registered with
:func:`register_secret` is replaced by ``***`` before a record is written.
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TextIO
from urllib.parse import quote, quote_plus

from ccf_core.logjson import RECORD_ATTRIBUTES, JsonFormatter
from ccf_core.validation import escape_undecodable

#: The runner's own logger. It is named after the program so that a text line reads
#: ``ccf-run: ...``; like every other logger it follows ``--log-level``.
RUNNER_LOGGER = "ccf-run"
#: What replaces a secret value.
MASK = "***"

LogFormat = Literal["text", "json"]

_context: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "ccf_log_context", default=None
)
_secrets: set[str] = set()
#: Encoded forms shorter than this are not masked (they would match ordinary text).
_SHORTEST_ENCODED_FORM = 6
_secrets_lock = threading.Lock()

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and goes in JSON.
_CONTEXT_FIELDS = ("connector", "run_id")


# -- secrets ----------------------------------------------------------------------------------


def register_secret(value: str) -> None:
    """Mask ``value`` and its common encodings in every log line from now on (empty strings are ignored).

    The encodings are those a secret takes inside URLs, JSON and headers: URL-encoded (``quote``,
    ``quote_plus``), JSON-escaped, and base64 (standard and URL-safe, at every byte alignment, so
    the token inside ``base64("user:token")`` of a Basic header is masked too).
    """
    if value:
        forms = secret_forms(value)
        with _secrets_lock:
            _secrets.update(forms)


def secret_forms(value: str) -> set[str]:
    """``value`` and the encoded forms of it that :func:`register_secret` masks."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), json.dumps(value)[1:-1]}
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    raw = value.encode("utf-8")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for offset in range(3):
            encoded = encode(b"\0" * offset + raw).decode("ascii").rstrip("=")
            # Characters that also carry bits of the bytes around the secret are left out.
            start = (offset * 8 + 5) // 6
            end = ((offset + len(raw)) * 8) // 6
            part = encoded[start:end]
            if len(part) >= _SHORTEST_ENCODED_FORM:
                forms.add(part)
    return {form for form in forms if form}


def forget_secrets() -> None:
    """Stop masking every registered value (tests use this between runs)."""
    with _secrets_lock:
        _secrets.clear()


def mask_secrets(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)  # longest first, so no secret is half-masked
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_value(value: Any) -> Any:
    """``value`` with secrets masked in every string, looking inside dicts, lists and tuples.

    Containers are copied, never changed in place: the caller's data (a report summary passed as
    ``extra=``) stays as it was. Other values are returned as they are.
    """
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, Mapping):
        return {mask_value(key): mask_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(mask_value(item) for item in value)
    return value


class SecretMaskingFilter(logging.Filter):
    """Replaces registered secrets in a record's message, arguments, ``extra=`` fields and traceback."""

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg = escape_undecodable(mask_secrets(record.getMessage()))
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in RECORD_ATTRIBUTES:
                setattr(record, key, mask_value(value))
        if record.exc_info:
            record.exc_text = self._exception_formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


# -- context ----------------------------------------------------------------------------------


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Add fields (``connector``, ``run_id``) to every record logged inside the ``with`` block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the current :func:`log_context` onto each record, unless ``extra=`` already set it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops it."""
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# -- formats ----------------------------------------------------------------------------------


class TextFormatter(logging.Formatter):
    """``logger: message`` for information, ``logger: level: message`` for anything else."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text (with its traceback, if any, on the following lines)."""
        message = record.getMessage()
        if record.levelno != logging.INFO:
            message = f"{record.levelname.lower()}: {message}"
        text = f"{record.name}: {message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        return text


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time, so progress bars and test runners that
    swap it still get the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def default_format() -> LogFormat:
    """``text`` when stderr is a terminal, ``json`` otherwise (containers, pipes, files)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(fmt: LogFormat | None = None, level: str | int = logging.INFO) -> LogFormat:
    """Send every log record to stderr in ``fmt`` (the default one when ``None``) at ``level``.

    Calling it again replaces the handler it installed before. Every logger, the runner's own
    (:data:`RUNNER_LOGGER`) included, follows ``level``: ``warning`` hides the INFO lines.

    Returns:
        The format in use.
    """
    chosen: LogFormat = fmt or default_format()
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ccf_runner", False):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler._ccf_runner = True  # type: ignore[attr-defined]
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretMaskingFilter())
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.getLogger(RUNNER_LOGGER).setLevel(numeric)
    # The AWS SDK's INFO lines ("Found credentials in ...") are noise; its warnings and (with
    # --log-level debug) its details still show.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(
            max(numeric, logging.WARNING) if numeric > logging.DEBUG else numeric
        )
    logging.captureWarnings(True)
    return chosen
