"""The wire side of a fake AWS service speaking botocore's REST-JSON protocol (the fake Q Business's).

:class:`RestJson` routes a request by the ``http.method`` and ``http.requestUri`` of each operation
in the service's botocore model, decodes it (path and query parameters, JSON body, base64 blobs,
epoch timestamps), validates it against the operation's input shape with botocore's
``ParamValidator`` plus the length, pattern and enum rules that one does not check, and encodes
answers and errors as the service does. :func:`http_server` serves a request handler on 127.0.0.1.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.validate import ParamValidator

#: An HTTP answer: status, headers, body.
Answer = tuple[int, dict[str, str], bytes]
#: What answers a request: ``(method, path with query, body) -> answer``.
RequestHandler = Callable[[str, str, bytes], Answer]


class ServiceError(Exception):
    """An error answer: the error code (a shape of the model), its message and extra fields."""

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class RestJson:
    """Requests and answers of ``operations`` of the botocore service ``service``."""

    def __init__(self, service: str, operations: Iterable[str]) -> None:
        self.model = botocore.session.get_session().get_service_model(service)
        self._validator = ParamValidator()
        self._routes = [self._route(name) for name in operations]

    def _route(self, operation: str) -> tuple[str, str, re.Pattern[str]]:
        http = self.model.operation_model(operation).http
        uri = http["requestUri"].split("?", 1)[0]
        parts = re.split(r"\{(\w+)\+?\}", uri)
        pattern = "".join(
            re.escape(part) if position % 2 == 0 else f"(?P<{part}>[^/]+)"
            for position, part in enumerate(parts)
        )
        return operation, http["method"], re.compile(pattern + r"\Z")

    def match(self, method: str, raw_path: str) -> tuple[str, dict[str, str], str]:
        """The operation a request calls, its path parameters and its query string.

        Raises:
            ServiceError: no operation has this method and path.
        """
        path, _, query = raw_path.partition("?")
        for operation, route_method, pattern in self._routes:
            found = pattern.match(path)
            if route_method == method and found:
                return operation, found.groupdict(), query
        raise ServiceError("UnknownOperationException", f"no operation for {method} {path}")

    def decode(self, operation: str, path_params: dict[str, str], query: str, body: bytes) -> dict[str, Any]:
        """The request's parameters, as boto3 was given them.

        Raises:
            ServiceError: a body that is not JSON or a blob that is not base64 (ValidationException).
        """
        shape = self.model.operation_model(operation).input_shape
        params: dict[str, Any] = {}
        if body:
            try:
                decoded = json.loads(body)
            except ValueError as err:
                raise ServiceError(
                    "ValidationException", f"body is not JSON: {err}", reason="CANNOT_PARSE"
                ) from err
            params.update(_decode_value(decoded, shape))
        query_values = parse_qs(query, keep_blank_values=True)
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            wire_name = member.serialization.get("name", name)
            if location == "uri" and wire_name in path_params:
                params[name] = unquote(path_params[wire_name])
            elif location == "querystring" and wire_name in query_values:
                values = query_values[wire_name]
                if member.type_name == "list":
                    params[name] = values
                elif member.type_name == "integer":
                    params[name] = int(values[0])
                else:
                    params[name] = values[0]
        return params

    def validate(self, operation: str, params: dict[str, Any]) -> None:
        """Check ``params`` against the operation's input shape.

        Raises:
            ServiceError: ValidationException listing every problem.
        """
        shape = self.model.operation_model(operation).input_shape
        report = self._validator.validate(params, shape)
        problems = report.generate_report().splitlines() if report.has_errors() else []
        problems += _constraint_problems(params, shape, "")
        if problems:
            raise ServiceError("ValidationException", "; ".join(problems), reason="FIELD_VALIDATION_FAILED")

    def answer(self, operation: str, output: dict[str, Any]) -> Answer:
        """The success answer of ``operation`` carrying ``output``."""
        status = int(self.model.operation_model(operation).http.get("responseCode", 200))
        return (
            status,
            {"Content-Type": "application/json"},
            json.dumps(output, default=_json_default).encode(),
        )

    def error(self, err: ServiceError) -> Answer:
        """The error answer, with the HTTP status the model gives the error's shape (400 if none)."""
        try:
            status = int(self.model.shape_for(err.code).metadata["error"]["httpStatusCode"])
        except Exception:
            status = 400
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": err.code}
        return status, headers, json.dumps({"message": err.message, **err.fields}).encode()


def _decode_value(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            key: _decode_value(item, shape.members[key]) if key in shape.members else item
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_decode_value(item, shape.member) for item in value]
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as err:
            raise ServiceError(
                "ValidationException", f"blob is not base64: {err}", reason="CANNOT_PARSE"
            ) from err
    if kind == "timestamp" and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return value


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in value)


def _constraint_problems(value: Any, shape: Any, path: str) -> list[str]:
    """The rules ``ParamValidator`` leaves out: maximum lengths, patterns and enums."""
    kind = shape.type_name
    metadata = shape.metadata
    problems: list[str] = []
    if kind == "structure" and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                problems += _constraint_problems(item, shape.members[key], f"{path}.{key}" if path else key)
    elif kind == "list" and isinstance(value, list):
        if "max" in metadata and len(value) > metadata["max"]:
            problems.append(f"{path}: at most {metadata['max']} items, has {len(value)}")
        for position, item in enumerate(value):
            problems += _constraint_problems(item, shape.member, f"{path}[{position}]")
    elif kind == "string" and isinstance(value, str):
        if "max" in metadata and len(value) > metadata["max"]:
            problems.append(f"{path}: at most {metadata['max']} characters, has {len(value)}")
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            problems.append(f"{path}: {value!r} is not one of {', '.join(enum)}")
        pattern = metadata.get("pattern")
        if pattern == "\\P{C}*":
            if _has_control_characters(value):
                problems.append(f"{path}: control characters are not allowed")
        elif pattern and not re.fullmatch(pattern, value):
            problems.append(f"{path}: does not match {pattern}")
    return problems


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def http_server(handle: RequestHandler) -> ThreadingHTTPServer:
    """An HTTP/1.1 server on a free port of 127.0.0.1 answering every request with ``handle``.

    It is bound and listening; run its ``serve_forever`` in a thread.
    """
    server = _Server(("127.0.0.1", 0), _Handler)
    server.handle = handle
    return server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    handle: RequestHandler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the client's delayed ACK
    # would add ~40 ms to every call on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.handle(self.command, self.path, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""
