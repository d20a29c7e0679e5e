"""From an API Gateway proxy event to an operation and back to a proxy response.

Routing is on the request path (from ``/api/v1/`` on, so a stage or base path in front does not
matter) and method. Path ids, query parameters and the JSON body are validated here with the
wire models; every problem is a 400 that names the field.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from ccf_backend import logs, service
from ccf_backend.errors import ApiError, BadRequest, InternalError, MethodNotAllowed, NotFound, Unauthorized
from ccf_backend.settings import get_settings
from ccf_core.api.models import (
    CONNECTOR_ID_PATTERN,
    JOB_ID_PATTERN,
    BatchDeleteCustomConnectorDocumentsRequest,
    BatchPutCustomConnectorDocumentsRequest,
    CreateCustomConnectorRequest,
    ListJobsParameters,
    ListParameters,
    PutCustomConnectorCheckpointRequest,
    PutCustomConnectorJobMetricsRequest,
    StartCustomConnectorJobRequest,
    UpdateCustomConnectorRequest,
)

logger = logging.getLogger(__name__)

_PREFIX = "/api/v1/custom-connectors"
_SEGMENT = "([^/]+)"


@dataclass
class Request:
    """The parts of an API Gateway proxy event an operation needs."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    account_id: str | None = None
    request_id: str | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Request:
        """Read a REST API (v1) proxy event."""
        body = event.get("body")
        if body is not None and event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(body).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as err:
                raise BadRequest("body", "is not valid base64-encoded UTF-8") from err
        context = event.get("requestContext") or {}
        identity = context.get("identity") or {}
        return cls(
            method=str(event.get("httpMethod", "")).upper(),
            path=str(event.get("path", "")),
            query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
            body=body,
            account_id=identity.get("accountId") or context.get("accountId"),
            request_id=context.get("requestId"),
        )


Handler = Callable[[Request, service.Caller, list[str]], service.Result]


@dataclass(frozen=True)
class Route:
    """An operation: its name, method and path pattern, and the function that serves it."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _body(request: Request, model: type[BaseModel]) -> Any:
    text = (request.body or "").strip()
    if not text:
        data: Any = {}
    else:
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as err:
            raise BadRequest("body", f"is not valid JSON ({err.msg} at position {err.pos})") from err
        except RecursionError as err:
            raise BadRequest("body", "nests too deeply") from err
        except ValueError as err:
            raise BadRequest("body", str(err)) from err
    if not isinstance(data, dict):
        raise BadRequest("body", "must be a JSON object")
    _refuse_nulls(data, "")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadRequest.from_validation(err) from err


#: Free-form objects whose values may be null (a JSON Merge Patch removes a key with null).
_NULLABLE_CONTENT = ("configuration", "secret_references")


def _refuse_nulls(data: dict[str, Any], prefix: str, depth: int = 0) -> None:
    """A null where the spec has no null is a 400 (an absent field is how a value is kept).

    Request objects nest three levels at most; anything deeper is refused by the model.
    """
    for name, value in data.items():
        field = f"{prefix}.{name}" if prefix else str(name)
        if value is None:
            raise BadRequest(field, "must not be null; leave the field out instead")
        if isinstance(value, dict) and depth < 3 and not (depth == 0 and name in _NULLABLE_CONTENT):
            _refuse_nulls(value, field, depth + 1)


def _no_constant(name: str) -> Any:
    raise ValueError(f"is not valid JSON ({name} is not a JSON number)")


def _query(request: Request, model: type[BaseModel]) -> Any:
    for name in request.query:
        if name not in model.model_fields:
            raise BadRequest(name, "unknown query parameter")
    values: dict[str, Any] = dict(request.query)
    if "max_results" in values:
        text = values["max_results"]
        if not re.fullmatch(r"[0-9]{1,6}", text):
            raise BadRequest("max_results", "must be a whole number")
        values["max_results"] = int(text)
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise BadRequest.from_validation(err) from err


def _connector_id(value: str) -> str:
    if not re.fullmatch(CONNECTOR_ID_PATTERN, value):
        raise BadRequest("connector_id", "must be 'cc-' followed by 12 lowercase hex digits")
    logs.bind(connector_id=value)
    return value


def _job_id(value: str) -> str:
    if not re.fullmatch(JOB_ID_PATTERN, value):
        raise BadRequest("job_id", "must be 'ccj-' followed by 12 lowercase hex digits")
    logs.bind(job_id=value)
    return value


def _route(operation: str, method: str, suffix: str, handler: Handler) -> Route:
    return Route(operation, method, re.compile(f"^{_PREFIX}{suffix}/?$"), handler)


ROUTES: tuple[Route, ...] = (
    _route(
        "CreateCustomConnector",
        "POST",
        "",
        lambda r, c, p: service.create_connector(c, _body(r, CreateCustomConnectorRequest)),
    ),
    _route(
        "ListCustomConnectors",
        "GET",
        "",
        lambda r, c, p: service.list_connectors(c, _query(r, ListParameters)),
    ),
    _route(
        "GetCustomConnector",
        "GET",
        f"/{_SEGMENT}",
        lambda r, c, p: service.get_connector(c, _connector_id(p[0])),
    ),
    _route(
        "UpdateCustomConnector",
        "PUT",
        f"/{_SEGMENT}",
        lambda r, c, p: service.update_connector(
            c, _connector_id(p[0]), _body(r, UpdateCustomConnectorRequest)
        ),
    ),
    _route(
        "DeleteCustomConnector",
        "DELETE",
        f"/{_SEGMENT}",
        lambda r, c, p: service.delete_connector(c, _connector_id(p[0])),
    ),
    _route(
        "StartCustomConnectorJob",
        "POST",
        f"/{_SEGMENT}/jobs",
        lambda r, c, p: service.start_job(c, _connector_id(p[0]), _body(r, StartCustomConnectorJobRequest)),
    ),
    _route(
        "ListCustomConnectorJobs",
        "GET",
        f"/{_SEGMENT}/jobs",
        lambda r, c, p: service.list_jobs(c, _connector_id(p[0]), _query(r, ListJobsParameters)),
    ),
    _route(
        "GetCustomConnectorJob",
        "GET",
        f"/{_SEGMENT}/jobs/{_SEGMENT}",
        lambda r, c, p: service.get_job(c, _connector_id(p[0]), _job_id(p[1])),
    ),
    _route(
        "StopCustomConnectorJob",
        "POST",
        f"/{_SEGMENT}/jobs/{_SEGMENT}/stop",
        lambda r, c, p: service.stop_job(c, _connector_id(p[0]), _job_id(p[1])),
    ),
    _route(
        "PutCustomConnectorJobMetrics",
        "PUT",
        f"/{_SEGMENT}/jobs/{_SEGMENT}/metrics",
        lambda r, c, p: service.put_job_metrics(
            c, _connector_id(p[0]), _job_id(p[1]), _body(r, PutCustomConnectorJobMetricsRequest)
        ),
    ),
    _route(
        "BatchPutCustomConnectorDocuments",
        "POST",
        f"/{_SEGMENT}/documents",
        lambda r, c, p: service.batch_put_documents(
            c, _connector_id(p[0]), _body(r, BatchPutCustomConnectorDocumentsRequest)
        ),
    ),
    _route(
        "BatchDeleteCustomConnectorDocuments",
        "DELETE",
        f"/{_SEGMENT}/documents",
        lambda r, c, p: service.batch_delete_documents(
            c, _connector_id(p[0]), _body(r, BatchDeleteCustomConnectorDocumentsRequest)
        ),
    ),
    _route(
        "ListCustomConnectorDocuments",
        "GET",
        f"/{_SEGMENT}/documents",
        lambda r, c, p: service.list_documents(c, _connector_id(p[0]), _query(r, ListParameters)),
    ),
    _route(
        "PutCustomConnectorCheckpoint",
        "PUT",
        f"/{_SEGMENT}/checkpoint",
        lambda r, c, p: service.put_checkpoint(
            c, _connector_id(p[0]), _body(r, PutCustomConnectorCheckpointRequest)
        ),
    ),
    _route(
        "GetCustomConnectorCheckpoint",
        "GET",
        f"/{_SEGMENT}/checkpoint",
        lambda r, c, p: service.get_checkpoint(c, _connector_id(p[0])),
    ),
    _route(
        "DeleteCustomConnectorCheckpoint",
        "DELETE",
        f"/{_SEGMENT}/checkpoint",
        lambda r, c, p: service.delete_checkpoint(c, _connector_id(p[0])),
    ),
)


def match(method: str, path: str) -> tuple[Route, list[str]]:
    """The route for ``method`` and ``path`` and the path's id segments.

    Raises:
        MethodNotAllowed: the path exists with other methods only (a 405 with ``Allow``).
        NotFound: no operation has this path.
    """
    start = path.find("/api/v1/")
    relative = path[start:] if start >= 0 else path
    allowed: list[str] = []
    for route in ROUTES:
        found = route.pattern.match(relative)
        if found and route.method == method:
            return route, list(found.groups())
        if found:
            allowed.append(route.method)
    if allowed:
        methods = ", ".join(allowed)
        raise MethodNotAllowed(f"{method} is not an operation of {relative}; use {methods}", allowed)
    raise NotFound(f"no operation for {method} {relative}")


def response(
    status: int, body: dict[str, Any] | None, request_id: str | None, error: ApiError | None = None
) -> dict[str, Any]:
    """An API Gateway proxy response (JSON body; error code also in ``x-amzn-ErrorType``)."""
    headers = {"Content-Type": "application/json"}
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    if error is not None:
        headers["x-amzn-ErrorType"] = error.error_type.value
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allowed)
    return {
        "statusCode": status,
        "headers": headers,
        "body": "" if body is None else json_text(body),
        "isBase64Encoded": False,
    }


def json_text(body: dict[str, Any]) -> str:
    """``body`` as compact JSON, non-ASCII characters as they are.

    orjson writes a list page ten times faster than the json module (it was a fifth of a list
    call); json takes what orjson refuses (integers past 64 bits in a configuration, lone
    surrogates), so every body that could be sent before still can.
    """
    try:
        return orjson.dumps(body).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def dispatch(event: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
    """Serve one proxy event: route, validate, run the operation, and shape the response."""
    started = time.monotonic()
    request_id = request_id or (event.get("requestContext") or {}).get("requestId")
    with logs.bound(request_id=request_id):
        operation = None
        try:
            request = Request.from_event(event)
            route, params = match(request.method, request.path)
            operation = route.operation
            logs.bind(operation=operation)
            if not request.account_id:
                raise Unauthorized("the request carries no AWS identity (the API requires SigV4 signing)")
            caller = service.Caller(request.account_id, get_settings().region)
            status, body = route.handler(request, caller, params)
            result = response(status, body, request_id)
        except ApiError as err:
            status, result = err.status, response(err.status, err.body(), request_id, err)
            logger.info(
                "%s failed: %s",
                operation or "request",
                err.message,
                extra={"fields": {"error_type": err.error_type.value}},
            )
        except Exception:
            logger.exception("%s failed with an internal error", operation or "request")
            fault = InternalError(f"internal error; quote request id {request_id} when reporting it")
            status, result = fault.status, response(fault.status, fault.body(), request_id, fault)
        logger.info(
            "%s answered %d",
            operation or "request",
            status,
            extra={
                "fields": {"status": status, "duration_ms": round((time.monotonic() - started) * 1000, 1)}
            },
        )
        return result
