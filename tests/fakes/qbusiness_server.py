"""A fake Amazon Q Business: a local HTTP server speaking the REST-JSON protocol of botocore's model.

A real boto3 ``qbusiness`` client reaches it through ``endpoint_url``. Requests are routed, decoded
and validated against botocore's ``qbusiness`` model by :mod:`tests.fakes.rest_json`; this module
is the service behind it. The index lives in memory: documents (decoded content, attributes, access
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

import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from tests.fakes.rest_json import Answer, RestJson, ServiceError, http_server

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


class FakeQBusiness:
    """The fake service. Start it with :meth:`start` or a ``with`` block.

    Args:
        latency: seconds every call waits before it is answered.
        throttle_rate: the share of calls answered with ThrottlingException (429).
        seed: seeds the throttling draw, so a run is reproducible.
        throttle_operations: the operations throttling applies to (all when None).
        rate_limit: calls per second allowed (a token bucket, as the service's quotas work): a call
            that finds the bucket empty is throttled. None for no limit.
        rate_burst: how many calls the bucket holds (``rate_limit`` / 5 when not given, at least 1).
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        throttle_rate: float = 0.0,
        seed: int = 0,
        throttle_operations: frozenset[str] | None = None,
        rate_limit: float | None = None,
        rate_burst: float | None = None,
    ) -> None:
        self.latency = latency
        self.throttle_rate = throttle_rate
        self.throttle_operations = throttle_operations
        self.rate_limit = rate_limit
        self.rate_burst = max(1.0, rate_burst if rate_burst is not None else (rate_limit or 0) / 5)
        self._tokens = self.rate_burst
        self._refilled = time.monotonic()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._protocol = RestJson("qbusiness", OPERATIONS)
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
        server = http_server(self.handle)
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

    def handle(self, method: str, raw_path: str, body: bytes) -> Answer:
        """Answer one HTTP request: status, headers, body."""
        try:
            operation, path_params, query = self._protocol.match(method, raw_path)
        except ServiceError as err:
            return self._protocol.error(err)
        return self._answer(operation, path_params, query, body)

    def _answer(self, operation: str, path_params: dict[str, str], query: str, body: bytes) -> Answer:
        params: dict[str, Any] | None = None
        with self._lock:
            self.calls[operation] += 1
            self._in_flight[operation] += 1
            self.max_concurrent[operation] = max(self.max_concurrent[operation], self._in_flight[operation])
        try:
            if self.latency:
                time.sleep(self.latency)
            self._injected_fault(operation)
            params = self._protocol.decode(operation, path_params, query, body)
            self._protocol.validate(operation, params)
            output = getattr(self, "_" + re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())(params)
            answer = self._protocol.answer(operation, output)
        except ServiceError as err:
            answer = self._protocol.error(err)
        except Exception as err:  # a bug of the fake: answer 500 and keep it for the test to see
            self.bugs.append(f"{operation}: {err!r}")
            answer = self._protocol.error(
                ServiceError("InternalServerException", f"the fake failed: {err!r}")
            )
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
            if self.rate_limit and applies and not self._take_token():
                self.throttled[operation] += 1
                raise ServiceError("ThrottlingException", "Rate exceeded")
            queue = self._injected.get(operation)
            if queue:
                injected = queue[0]
                injected.times -= 1
                if injected.times <= 0:
                    queue.pop(0)
                raise ServiceError(injected.code, injected.message, **injected.fields)

    def _take_token(self) -> bool:
        """Take a token from the bucket (refilled at ``rate_limit`` per second); False when empty."""
        assert self.rate_limit is not None
        now = time.monotonic()
        self._tokens = min(self.rate_burst, self._tokens + (now - self._refilled) * self.rate_limit)
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

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
