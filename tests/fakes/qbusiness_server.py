"""A fake Amazon Q Business: a local HTTP server speaking the REST-JSON protocol of botocore's model.

A real boto3 ``qbusiness`` client reaches it through ``endpoint_url``. Requests are routed by the
``http.method`` and ``http.requestUri`` of each operation in botocore's ``qbusiness`` model, decoded
(path and query parameters, JSON body, base64 blobs, epoch timestamps) and validated against the
operation's input shape with botocore's ``ParamValidator``, plus the length, pattern and enum rules
it does not check. The index lives in memory: documents (decoded content, attributes, access
configuration), groups and sync jobs.

Faults to inject: latency per call, throttling on a share of calls (seeded, so deterministic),
per-document failures, a sync job already running (for some seconds or some attempts), and any
error on the next calls of an operation. Counters: calls, throttled calls and the most concurrent
calls seen, per operation.

Usage::

    with FakeQBusiness(latency=0.05) as fake:
        client = boto3.client("qbusiness", endpoint_url=fake.endpoint_url, ...)
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.validate import ParamValidator

#: The operations the fake answers.
OPERATIONS = (
    "StartDataSourceSyncJob",
    "StopDataSourceSyncJob",
    "ListDataSourceSyncJobs",
    "BatchPutDocument",
    "BatchDeleteDocument",
    "PutGroup",
    "DeleteGroup",
)


class ServiceError(Exception):
    """An error answer: the error code (a shape of the model), its message and extra fields."""

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


@dataclass
class StoredDocument:
    """A document as the fake index holds it."""

    id: str
    title: str | None
    content_type: str | None
    content: bytes | None
    s3: dict[str, str] | None
    attributes: dict[str, dict[str, Any]]
    access_configuration: dict[str, Any] | None
    data_source_sync_id: str | None
    role_arn: str | None


@dataclass
class StoredGroup:
    """A group as PutGroup left it."""

    name: str
    type: str
    data_source_id: str | None
    member_users: list[dict[str, Any]]
    member_groups: list[dict[str, Any]]


@dataclass
class SyncJob:
    """A data source sync job."""

    execution_id: str
    data_source_id: str
    started_at: float
    stopped_at: float | None = None

    @property
    def running(self) -> bool:
        return self.stopped_at is None


@dataclass(frozen=True)
class Call:
    """One request the fake answered: decoded params (None if it failed before decoding)."""

    operation: str
    params: dict[str, Any] | None
    body_bytes: int
    status: int
    at: float


@dataclass
class _Injected:
    code: str
    message: str
    times: int
    fields: dict[str, Any] = field(default_factory=dict)


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(ch).startswith("C") for ch in value)


class FakeQBusiness:
    """The fake service. Start it with :meth:`start` or a ``with`` block.

    Args:
        latency: seconds every call waits before it is answered.
        throttle_rate: the share of calls answered with ThrottlingException (429).
        seed: seeds the throttling draw, so a run is reproducible.
        throttle_operations: the operations throttling applies to (all when None).
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        throttle_rate: float = 0.0,
        seed: int = 0,
        throttle_operations: frozenset[str] | None = None,
    ) -> None:
        self.latency = latency
        self.throttle_rate = throttle_rate
        self.throttle_operations = throttle_operations
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._model = botocore.session.get_session().get_service_model("qbusiness")
        self._validator = ParamValidator()
        self._routes = [self._route(name) for name in OPERATIONS]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._document_errors: dict[str, tuple[str, str]] = {}
        self._refused_ids: set[str] = set()
        self._injected: dict[str, list[_Injected]] = {}
        self._conflict_until = 0.0
        self._conflict_attempts = 0
        self._in_flight: Counter[str] = Counter()
        self.documents: dict[str, StoredDocument] = {}
        self.groups: dict[str, StoredGroup] = {}
        self.sync_jobs: list[SyncJob] = []
        self.deleted_ids: list[str] = []
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.max_concurrent: Counter[str] = Counter()
        self.log: list[Call] = []
        self.bugs: list[str] = []

    # lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeQBusiness:
        """Listen on 127.0.0.1 on a free port, in a background thread."""
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-qbusiness", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and wait for the server thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeQBusiness:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """The URL to give boto3 as ``endpoint_url``."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # injecting faults --------------------------------------------------------------------------

    def fail_documents(self, errors: Mapping[str, str], message: str = "refused by the fake") -> None:
        """Answer these document ids (put or delete) in ``failedDocuments`` with the given errorCode."""
        with self._lock:
            self._document_errors.update({doc_id: (code, message) for doc_id, code in errors.items()})

    def clear_document_failures(self) -> None:
        """Accept every document again."""
        with self._lock:
            self._document_errors.clear()
            self._refused_ids.clear()

    def refuse_requests_with(self, *doc_ids: str) -> None:
        """Answer a whole BatchPutDocument with ValidationException (400) when it holds one of these ids.

        This is a rule of the service that no client-side model knows of.
        """
        with self._lock:
            self._refused_ids.update(doc_ids)

    def conflict(self, *, seconds: float | None = None, attempts: int | None = None) -> None:
        """Act as if another sync job runs: StartDataSourceSyncJob answers 409 for a while."""
        with self._lock:
            if seconds is not None:
                self._conflict_until = time.monotonic() + seconds
            if attempts is not None:
                self._conflict_attempts = attempts

    def fail_next(self, operation: str, code: str, times: int = 1, message: str | None = None) -> None:
        """Answer the next ``times`` calls of ``operation`` with the error ``code``."""
        fields: dict[str, Any] = {}
        if code in ("ResourceNotFoundException", "ConflictException", "ServiceQuotaExceededException"):
            fields = {"resourceId": "injected", "resourceType": "INJECTED"}
        with self._lock:
            self._injected.setdefault(operation, []).append(
                _Injected(code, message or f"{code} injected by the fake", times, fields)
            )

    # observing ---------------------------------------------------------------------------------

    def calls_of(self, operation: str) -> list[Call]:
        """Every answered call of ``operation``, in order."""
        with self._lock:
            return [call for call in self.log if call.operation == operation]

    def successful_params(self, operation: str) -> list[dict[str, Any]]:
        """The decoded params of every call of ``operation`` answered with success."""
        return [
            call.params for call in self.calls_of(operation) if call.status < 300 and call.params is not None
        ]

    @property
    def running_jobs(self) -> list[SyncJob]:
        """Sync jobs started and not stopped."""
        with self._lock:
            return [job for job in self.sync_jobs if job.running]

    # the protocol ------------------------------------------------------------------------------

    def _route(self, operation: str) -> tuple[str, str, re.Pattern[str]]:
        http = self._model.operation_model(operation).http
        uri = http["requestUri"].split("?", 1)[0]
        parts = re.split(r"\{(\w+)\+?\}", uri)
        pattern = "".join(
            re.escape(part) if position % 2 == 0 else f"(?P<{part}>[^/]+)"
            for position, part in enumerate(parts)
        )
        return operation, http["method"], re.compile(pattern + r"\Z")

    def handle(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: status, headers, body."""
        path, _, query = raw_path.partition("?")
        for operation, route_method, pattern in self._routes:
            match = pattern.match(path)
            if route_method == method and match:
                return self._answer(operation, match.groupdict(), query, body)
        return self._error(ServiceError("UnknownOperationException", f"no operation for {method} {path}"))

    def _answer(
        self, operation: str, path_params: dict[str, str], query: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        operation_model = self._model.operation_model(operation)
        params: dict[str, Any] | None = None
        with self._lock:
            self.calls[operation] += 1
            self._in_flight[operation] += 1
            self.max_concurrent[operation] = max(self.max_concurrent[operation], self._in_flight[operation])
        try:
            if self.latency:
                time.sleep(self.latency)
            self._injected_fault(operation)
            params = self._decode(operation_model, path_params, query, body)
            self._validate(operation_model, params)
            output = getattr(self, "_" + re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())(params)
            status = int(operation_model.http.get("responseCode", 200))
            answer = (
                status,
                {"Content-Type": "application/json"},
                json.dumps(output, default=_json_default).encode(),
            )
        except ServiceError as err:
            answer = self._error(err)
        except Exception as err:  # a bug of the fake: answer 500 and keep it for the test to see
            self.bugs.append(f"{operation}: {err!r}")
            answer = self._error(ServiceError("InternalServerException", f"the fake failed: {err!r}"))
        finally:
            with self._lock:
                self._in_flight[operation] -= 1
        with self._lock:
            self.log.append(Call(operation, params, len(body), answer[0], time.monotonic()))
        return answer

    def _injected_fault(self, operation: str) -> None:
        with self._lock:
            applies = self.throttle_operations is None or operation in self.throttle_operations
            if self.throttle_rate and applies and self._random.random() < self.throttle_rate:
                self.throttled[operation] += 1
                raise ServiceError("ThrottlingException", "Rate exceeded")
            queue = self._injected.get(operation)
            if queue:
                injected = queue[0]
                injected.times -= 1
                if injected.times <= 0:
                    queue.pop(0)
                raise ServiceError(injected.code, injected.message, **injected.fields)

    def _error(self, err: ServiceError) -> tuple[int, dict[str, str], bytes]:
        try:
            status = int(self._model.shape_for(err.code).metadata["error"]["httpStatusCode"])
        except Exception:
            status = 400
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": err.code}
        return status, headers, json.dumps({"message": err.message, **err.fields}).encode()

    def _decode(
        self, operation_model: Any, path_params: dict[str, str], query: str, body: bytes
    ) -> dict[str, Any]:
        shape = operation_model.input_shape
        params: dict[str, Any] = {}
        if body:
            try:
                decoded = json.loads(body)
            except ValueError as err:
                raise ServiceError(
                    "ValidationException", f"body is not JSON: {err}", reason="CANNOT_PARSE"
                ) from err
            params.update(self._decode_value(decoded, shape))
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

    def _decode_value(self, value: Any, shape: Any) -> Any:
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            return {
                key: self._decode_value(item, shape.members[key]) if key in shape.members else item
                for key, item in value.items()
            }
        if kind == "list" and isinstance(value, list):
            return [self._decode_value(item, shape.member) for item in value]
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

    def _validate(self, operation_model: Any, params: dict[str, Any]) -> None:
        report = self._validator.validate(params, operation_model.input_shape)
        problems = report.generate_report().splitlines() if report.has_errors() else []
        problems += _constraint_problems(params, operation_model.input_shape, "")
        if problems:
            raise ServiceError("ValidationException", "; ".join(problems), reason="FIELD_VALIDATION_FAILED")

    # operations --------------------------------------------------------------------------------

    def _running_job(self, data_source_id: str) -> SyncJob | None:
        return next(
            (job for job in self.sync_jobs if job.running and job.data_source_id == data_source_id), None
        )

    def _start_data_source_sync_job(self, params: dict[str, Any]) -> dict[str, Any]:
        data_source_id = params["dataSourceId"]
        with self._lock:
            busy = self._running_job(data_source_id) is not None or time.monotonic() < self._conflict_until
            if self._conflict_attempts > 0:
                self._conflict_attempts -= 1
                busy = True
            if busy:
                raise ServiceError(
                    "ConflictException",
                    f"a sync job is already running for data source {data_source_id}",
                    resourceId=data_source_id,
                    resourceType="DATA_SOURCE",
                )
            job = SyncJob(str(uuid.uuid4()), data_source_id, time.monotonic())
            self.sync_jobs.append(job)
        return {"executionId": job.execution_id}

    def _stop_data_source_sync_job(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = self._running_job(params["dataSourceId"])
            if job is None:
                raise ServiceError(
                    "ConflictException",
                    "no sync job is running",
                    resourceId=params["dataSourceId"],
                    resourceType="DATA_SOURCE",
                )
            job.stopped_at = time.monotonic()
        return {}

    def _list_data_source_sync_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            jobs = [job for job in self.sync_jobs if job.data_source_id == params["dataSourceId"]]
        history = [
            {"executionId": job.execution_id, "status": "SYNCING" if job.running else "STOPPED"}
            for job in reversed(jobs)
        ]
        wanted = params.get("statusFilter")
        return {"history": [item for item in history if wanted is None or item["status"] == wanted]}

    def _check_sync_id(self, params: dict[str, Any]) -> None:
        sync_id = params.get("dataSourceSyncId")
        if sync_id is not None and not any(
            job.execution_id == sync_id and job.running for job in self.sync_jobs
        ):
            raise ServiceError(
                "ValidationException", f"sync job {sync_id} is not running", reason="FIELD_VALIDATION_FAILED"
            )

    def _failed(self, doc_id: str) -> dict[str, Any] | None:
        error = self._document_errors.get(doc_id)
        if error is None:
            return None
        return {"id": doc_id, "error": {"errorCode": error[0], "errorMessage": error[1]}}

    def _batch_put_document(self, params: dict[str, Any]) -> dict[str, Any]:
        failed: list[dict[str, Any]] = []
        with self._lock:
            self._check_sync_id(params)
            refused = sorted(self._refused_ids & {document["id"] for document in params["documents"]})
            if refused:
                raise ServiceError(
                    "ValidationException",
                    f"document {refused[0]} breaks a service rule",
                    reason="FIELD_VALIDATION_FAILED",
                )
            for document in params["documents"]:
                doc_id = document["id"]
                content = document.get("content") or {}
                failure = self._failed(doc_id)
                if failure is None and "s3" in content and not params.get("roleArn"):
                    failure = {
                        "id": doc_id,
                        "error": {
                            "errorCode": "InvalidRequest",
                            "errorMessage": "roleArn is needed to read S3",
                        },
                    }
                if failure is not None:
                    failed.append(failure)
                    continue
                self.documents[doc_id] = StoredDocument(
                    id=doc_id,
                    title=document.get("title"),
                    content_type=document.get("contentType"),
                    content=content.get("blob"),
                    s3=content.get("s3"),
                    attributes={item["name"]: item["value"] for item in document.get("attributes", [])},
                    access_configuration=document.get("accessConfiguration"),
                    data_source_sync_id=params.get("dataSourceSyncId"),
                    role_arn=params.get("roleArn"),
                )
        return {"failedDocuments": failed}

    def _batch_delete_document(self, params: dict[str, Any]) -> dict[str, Any]:
        failed: list[dict[str, Any]] = []
        with self._lock:
            self._check_sync_id(params)
            for item in params["documents"]:
                failure = self._failed(item["documentId"])
                if failure is not None:
                    failed.append(failure)
                    continue
                self.deleted_ids.append(item["documentId"])
                self.documents.pop(item["documentId"], None)
        return {"failedDocuments": failed}

    def _put_group(self, params: dict[str, Any]) -> dict[str, Any]:
        members = params["groupMembers"]
        with self._lock:
            self.groups[params["groupName"]] = StoredGroup(
                name=params["groupName"],
                type=params["type"],
                data_source_id=params.get("dataSourceId"),
                member_users=list(members.get("memberUsers", [])),
                member_groups=list(members.get("memberGroups", [])),
            )
        return {}

    def _delete_group(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["groupName"]
        with self._lock:
            if self.groups.pop(name, None) is None:
                raise ServiceError(
                    "ResourceNotFoundException",
                    f"group {name} not found",
                    resourceId=name,
                    resourceType="GROUP",
                )
        return {}


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeQBusiness


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the client's delayed ACK
    # would add ~40 ms to every call on a kept-alive connection.
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.fake.handle(self.command, self.path, body)
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
