"""Amazon Q Business as a destination, through a boto3 ``qbusiness`` client.

A run starts a data source sync job in :meth:`QBusinessDestination.open` (waiting, up to
``conflict_wait_seconds``, for one that is already running to end) and stops it in
:meth:`~QBusinessDestination.close`, which the engine calls in every outcome. Every batch call
carries the job's execution id. Batches hold at most 10 documents and stay under the request limit
as measured on the encoded request (blobs travel base64-encoded in JSON); a document too big to go
inline is staged in S3 and sent as a reference with ``roleArn``. Throttling, HTTP 429 and 5xx are
retried with exponential backoff and full jitter while an AIMD limiter lowers the number of calls
in flight; what still fails comes back as per-document failures, never as an exception, so the
engine accounts for each document. Only errors that make the whole run pointless (access denied,
unknown application, index or data source) are raised.

boto3 and botocore are imported when a client is built or a call is checked, never at import.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ccf_core.destinations.qbusiness_mapping import (
    MAX_DOCUMENT_BYTES,
    MAX_REQUEST_BYTES,
    Rejection,
    RequestShape,
    group_request,
    measure_document,
    operation_input_problems,
    oversized_group,
    request_shape,
)
from ccf_core.destinations.qbusiness_staging import S3Staging, needs_s3_message
from ccf_core.destinations.retry import (
    AdaptiveLimiter,
    CallError,
    ErrorKind,
    RetryingCaller,
    build_client,
    in_threads,
)
from ccf_core.errors import CCFError, SyncCancelled
from ccf_core.models.acl import Group
from ccf_core.ports import BatchLimits, BatchResult, PreparedDocument, RunInfo
from ccf_core.report import Failure, RunStatus
from ccf_core.retry import Backoff

logger = logging.getLogger(__name__)

#: The note (kept in the state by the engine) holding the execution id of the sync job a run started.
SYNC_JOB_NOTE = "qbusiness.sync_job"
#: Sync job statuses in which a job still holds the data source.
RUNNING_SYNC_STATUSES = frozenset({"SYNCING", "SYNCING_INDEXING"})

#: Batches in flight by default. The API answers in tens of milliseconds at best and takes 10
#: documents a call, so 4 in flight caps a run near 800 documents/s at 50 ms; 16 reaches 1,500/s.
#: The AIMD limiter lowers it on its own when the service throttles.
DEFAULT_MAX_IN_FLIGHT = 16

#: BatchPutDocument and BatchDeleteDocument take at most this many documents per call.
MAX_BATCH_DOCUMENTS = 10

#: Application, index and data source ids, as the API model defines them.
_RESOURCE_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-]{35}")


class QBusinessError(CCFError):
    """Amazon Q Business is misconfigured or refused a call in a way that makes the run pointless."""


class SyncJobAlreadyRunning(QBusinessError):
    """Another sync job of the data source was still running after ``conflict_wait_seconds``."""


@dataclass(slots=True)
class _Outgoing:
    """A document ready to send: its API structure and encoded size.

    ``ready``: the structure holds its content (the bytes the engine read, or the S3 reference);
    otherwise its blob is empty until the content is read, as the document is sent.
    """

    prepared: PreparedDocument
    structure: dict[str, Any]
    encoded_size: int
    staged_key: str | None
    ready: bool


class QBusinessDestination:
    """Sends documents, deletions and groups to one Amazon Q Business data source.

    Args:
        client: a boto3 ``qbusiness`` client; built from ``session``/``region``/``endpoint_url``
            when not given, with botocore's own retries off so this class's retries apply (give a
            client built with ``Config(retries={"total_max_attempts": 1})`` for the same effect).
        application_id: the Q Business application id.
        index_id: the index id.
        data_source_id: the custom data source id.
        region: the AWS region of a built client.
        endpoint_url: the endpoint of a built client (a test double, a VPC endpoint).
        session: the boto3 session clients are built from (default: a new one).
        s3_client: a boto3 S3 client for large documents (built from the session when needed).
        s3_bucket: the bucket large documents are staged in.
        role_arn: the IAM role Q Business assumes to read staged documents; needed with ``s3_bucket``.
        s3_prefix: the key prefix of staged documents (``<prefix>/<connector>/<sha256 of id>``).
        s3_endpoint_url: the endpoint of a built S3 client.
        max_in_flight: the most batch calls at once (the limiter lowers it under throttling).
        max_attempts: attempts per call on throttling, HTTP 429, 5xx and connection errors.
        retry_base_delay: the ceiling of the first retry's random wait, in seconds.
        retry_max_delay: the largest ceiling of a retry's random wait, in seconds (1 s after a
            throttle while the limiter can still lower the calls in flight).
        conflict_wait_seconds: how long to wait for a sync job that is already running to end.
        conflict_poll_seconds: the first wait between two attempts to start the sync job.
        max_request_bytes: the largest BatchPutDocument request, measured encoded.
        max_document_bytes: the largest document (inline or staged in S3).
    """

    name = "qbusiness"

    def __init__(
        self,
        client: Any = None,
        *,
        application_id: str,
        index_id: str,
        data_source_id: str,
        region: str | None = None,
        endpoint_url: str | None = None,
        session: Any = None,
        s3_client: Any = None,
        s3_bucket: str | None = None,
        role_arn: str | None = None,
        s3_prefix: str = "ccf",
        s3_endpoint_url: str | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_attempts: int = 10,
        retry_base_delay: float = 0.1,
        retry_max_delay: float = 20.0,
        conflict_wait_seconds: float = 300.0,
        conflict_poll_seconds: float = 5.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        # What builds it again in another process (a client or session object may not go there).
        self._arguments = {name: value for name, value in locals().items() if name != "self"}
        problems = [
            f"{label} {value!r} is not a Q Business id (36 characters: letters, digits and '-')"
            if value
            else f"{label} is required"
            for label, value in (
                ("application_id", application_id),
                ("index_id", index_id),
                ("data_source_id", data_source_id),
            )
            if not value or not _RESOURCE_ID.fullmatch(value)
        ]
        if problems:
            raise QBusinessError("the qbusiness destination cannot be set up: " + "; ".join(problems))
        self.application_id = application_id
        self.index_id = index_id
        self.data_source_id = data_source_id
        #: State is kept per data source: another application, index or data source starts afresh.
        self.identity = f"qbusiness:{application_id}/{index_id}/{data_source_id}"
        self.s3_bucket = s3_bucket or None
        self.role_arn = role_arn or None
        self.s3_prefix = s3_prefix
        self.max_request_bytes = int(max_request_bytes)
        self.max_document_bytes = int(max_document_bytes)
        self.conflict_wait_seconds = float(conflict_wait_seconds)
        in_flight = max(1, int(max_in_flight))
        raw_budget = (self.max_request_bytes - 4096) * 3 // 4
        self.limits = BatchLimits(
            max_documents=MAX_BATCH_DOCUMENTS,
            max_bytes=max(1, raw_budget),
            max_delete_ids=MAX_BATCH_DOCUMENTS,
            max_in_flight=in_flight,
        )
        if client is None:
            client = build_client("qbusiness", session, region, endpoint_url)
        self.client = client
        self._caller = RetryingCaller(
            client,
            max_in_flight=in_flight,
            max_attempts=int(max_attempts),
            backoff=Backoff(float(retry_base_delay), float(retry_max_delay)),
        )
        self._staging = (
            S3Staging(
                self.s3_bucket, s3_prefix, s3_client, (session, region, s3_endpoint_url), self._caller.count
            )
            if self.s3_bucket
            else None
        )
        poll = float(conflict_poll_seconds)
        self._conflict_backoff = Backoff(poll, max(30.0, poll))
        self._lock = threading.Lock()
        self._connector = "connector"
        self._sync_id: str | None = None
        self._remember: Callable[[str, str | None], None] = lambda _key, _value: None
        self._request_overhead: int | None = None
        self._fatal: QBusinessError | None = None
        if self.s3_bucket and not self.role_arn:
            logger.warning(
                "s3_bucket is set but role_arn is not: Q Business cannot read staged documents without a "
                "role, so documents too large to send inline will fail with reason needs_s3"
            )

    # what it did -----------------------------------------------------------------------------

    @property
    def sync_job_id(self) -> str | None:
        """The execution id of the running data source sync job, if any."""
        return self._sync_id

    @property
    def limiter(self) -> AdaptiveLimiter:
        """The AIMD limit on calls in flight."""
        return self._caller.limiter

    def stats(self) -> dict[str, dict[str, int]]:
        """Successful calls and retries by operation."""
        return self._caller.stats()

    def worker_factory(self) -> Callable[[Any], QBusinessDestination] | None:
        """What builds this destination again in another process, in the sync job under way (for
        :mod:`ccf_core.upload_worker`); None when no job runs, and for a subclass."""
        if type(self) is not QBusinessDestination or self._sync_id is None:
            return None
        return partial(_opened_copy, self._arguments, self._connector, self._sync_id)

    # the Destination protocol ----------------------------------------------------------------

    def open(self, run: RunInfo) -> None:
        """Start the data source sync job, waiting for one that is already running to end.

        Raises:
            SyncJobAlreadyRunning: when another sync job still runs after ``conflict_wait_seconds``.
            QBusinessError: when Q Business refuses the call (access, unknown ids).
        """
        self._connector = run.connector
        self._fatal = None
        self._caller.cancel_event = run.cancel_event
        self._request_overhead = None  # measured when the first document is sent
        if run.dry_run:
            return
        self._remember = run.remember
        self._sync_id = self._start_sync_job(run.notes.get(SYNC_JOB_NOTE))
        run.remember(SYNC_JOB_NOTE, self._sync_id)
        logger.info("started sync job %s of Q Business data source %s", self._sync_id, self.data_source_id)

    def close(self, status: RunStatus) -> None:
        """Stop the sync job (in every outcome, so Q Business indexes what was sent).

        Raises:
            QBusinessError: when the job could not be stopped.
        """
        sync_id, self._sync_id = self._sync_id, None
        if sync_id is None:
            return
        outcome = self._call("StopDataSourceSyncJob", self._ids())
        if not isinstance(outcome, CallError):
            logger.info("stopped sync job %s (run %s)", sync_id, status.value)
            self._remember(SYNC_JOB_NOTE, None)
            return
        if outcome.code == "ConflictException":
            logger.warning("sync job %s was no longer running: %s", sync_id, outcome.message)
            self._remember(SYNC_JOB_NOTE, None)
            return
        raise QBusinessError(
            f"could not stop sync job {sync_id} of data source {self.data_source_id}: "
            f"{outcome.code}: {outcome.message}"
        )

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        """Send a batch, split as the API's limits require; report each document."""
        sync_id = self._running_sync_id()
        result = BatchResult()
        overhead, limit = self._overhead(), self.max_request_bytes
        chunk: list[_Outgoing] = []
        size = overhead
        for prepared in batch:
            item = self._outgoing(prepared, result, overhead)
            if item is None:
                continue
            if chunk and (len(chunk) >= MAX_BATCH_DOCUMENTS or size + item.encoded_size > limit):
                self._put_chunk(chunk, sync_id, result)
                chunk, size = [], overhead
            chunk.append(item)
            size += item.encoded_size
        if chunk:
            self._put_chunk(chunk, sync_id, result)
        return result

    def delete_documents(self, document_ids: Sequence[str]) -> BatchResult:
        """Delete ids in calls of at most 10; report each id."""
        sync_id = self._running_sync_id()
        result = BatchResult()
        for start in range(0, len(document_ids), MAX_BATCH_DOCUMENTS):
            items = [{"documentId": doc_id} for doc_id in document_ids[start : start + MAX_BATCH_DOCUMENTS]]
            self._send_batch(
                "BatchDeleteDocument",
                items,
                "documentId",
                lambda chunk: {**self._index_ids(), "dataSourceSyncId": sync_id, "documents": chunk},
                result,
            )
        if result.accepted and self._staging is not None:
            self._staging.remove(self._connector, result.accepted)
        return result

    def put_groups(self, groups: Sequence[Group]) -> BatchResult:
        """PutGroup for each group (type DATASOURCE), with its users and sub-groups as members."""
        self._raise_if_fatal()
        result = BatchResult()
        for group, failure in zip(
            groups, in_threads(self._put_group, groups, self.limits.max_in_flight), strict=True
        ):
            if failure is None:
                result.accepted.append(group.name)
            else:
                result.failures.append(failure)
        return result

    def delete_groups(self, names: Sequence[str]) -> BatchResult:
        """DeleteGroup for each name; a group that is already gone counts as deleted."""
        self._raise_if_fatal()
        result = BatchResult()
        for name, failure in zip(
            names, in_threads(self._delete_group, names, self.limits.max_in_flight), strict=True
        ):
            if failure is None:
                result.accepted.append(name)
            else:
                result.failures.append(failure)
        return result

    # the sync job ----------------------------------------------------------------------------

    def _start_sync_job(self, orphan: str | None) -> str:
        """Start a sync job, first stopping ``orphan`` (the job a killed run of ours left running)."""
        deadline = time.monotonic() + self.conflict_wait_seconds
        waits = 0
        while True:
            outcome = self._call("StartDataSourceSyncJob", self._ids())
            if not isinstance(outcome, CallError):
                return str(outcome["executionId"])
            if outcome.kind is ErrorKind.FATAL:
                raise self._fatal_error("StartDataSourceSyncJob", outcome)
            if outcome.code != "ConflictException":
                raise QBusinessError(
                    f"could not start a sync job of data source {self.data_source_id}: "
                    f"{outcome.code}: {outcome.message}"
                )
            if orphan is not None:
                stopped, orphan = self._stop_orphan(orphan), None
                if stopped:
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SyncJobAlreadyRunning(
                    f"a sync job is already running for data source {self.data_source_id} and did not end "
                    f"within conflict_wait_seconds={self.conflict_wait_seconds:g}s ({outcome.message}). "
                    "Wait for it to finish or stop it (aws qbusiness stop-data-source-sync-job), "
                    "then run again"
                )
            ceiling = self._conflict_backoff.ceiling(waits)
            delay = min(remaining, ceiling / 2 + self._conflict_backoff.delay(waits) / 2)
            logger.info(
                "a sync job is already running for data source %s; trying again in %.1fs",
                self.data_source_id,
                delay,
            )
            if not self._caller.wait(delay):
                raise SyncCancelled()
            waits += 1

    def _stop_orphan(self, execution_id: str) -> bool:
        """Stop our own sync job left running by a killed run; False when it is not the running one."""
        listing = self._call("ListDataSourceSyncJobs", self._ids())
        if isinstance(listing, CallError):
            logger.warning("could not list the sync jobs of data source %s: %s", self.data_source_id, listing)
            return False
        running = {
            item.get("executionId")
            for item in listing.get("history", ())
            if item.get("status") in RUNNING_SYNC_STATUSES
        }
        if execution_id not in running:
            return False
        outcome = self._call("StopDataSourceSyncJob", self._ids())
        if isinstance(outcome, CallError) and outcome.code != "ConflictException":
            logger.warning("could not stop sync job %s left by an earlier run: %s", execution_id, outcome)
            return False
        logger.warning(
            "stopped sync job %s of data source %s, left running by an earlier run of this connector "
            "that did not end (killed?)",
            execution_id,
            self.data_source_id,
        )
        return True

    def _running_sync_id(self) -> str:
        self._raise_if_fatal()
        if self._sync_id is None:
            raise QBusinessError("no sync job is running: the engine must call open() before sending")
        return self._sync_id

    # documents -------------------------------------------------------------------------------

    def _overhead(self) -> int:
        """The body size of a BatchPutDocument request without documents.

        botocore's model is loaded on first use: a run that sends nothing never loads it.
        """
        if self._request_overhead is None:
            overhead: dict[str, Any] = {"documents": [], "dataSourceSyncId": "x" * 36}
            if self.role_arn:
                overhead["roleArn"] = self.role_arn
            self._request_overhead = request_shape().body_size(overhead)
        return self._request_overhead

    def _outgoing(self, prepared: PreparedDocument, result: BatchResult, overhead: int) -> _Outgoing | None:
        """Check and measure one document: inline, staged in S3, or a failure of its own.

        ``overhead`` is the size of a request without documents.
        """
        doc_id = prepared.id
        content = prepared.content
        measured = measure_document(
            prepared.document,
            self.max_document_bytes,
            prepared.size,
            prepared.resolved_content_type(),
            prepared.fingerprint_size,
            blob=b"" if content is None else content,
        )
        if isinstance(measured, Rejection):
            result.failures.append(Failure(doc_id, measured.reason, measured.message))
            return None
        encoded_size = measured.encoded_size
        if overhead + encoded_size > self.max_request_bytes and prepared.fingerprint_size is not None:
            # Only a bound so far: near the limit the exact size decides.
            encoded_size = RequestShape.document_size(measured.structure, measured.size)
        if overhead + encoded_size <= self.max_request_bytes:
            return _Outgoing(prepared, measured.structure, encoded_size, None, content is not None)
        if self._staging is None or not self.role_arn:
            message = needs_s3_message(doc_id, measured.size, self.max_request_bytes, bool(self.s3_bucket))
            result.failures.append(Failure(doc_id, "needs_s3", message))
            return None
        key = self._staging.key(self._connector, doc_id)
        structure = {**measured.structure, "content": {"s3": {"bucket": self.s3_bucket, "key": key}}}
        return _Outgoing(prepared, structure, RequestShape.document_size(structure, 0), key, True)

    def _put_chunk(self, chunk: list[_Outgoing], sync_id: str, result: BatchResult) -> None:
        documents: list[dict[str, Any]] = []
        for item in chunk:
            document = item.prepared.document
            if item.staged_key is not None:
                assert self._staging is not None  # a key is only given when staging is set up
                failure = self._staging.upload(item.prepared, item.staged_key)
                if failure is None:
                    documents.append(item.structure)
                else:
                    result.failures.append(failure)
                continue
            if item.ready:
                documents.append(item.structure)
                continue
            try:
                blob = item.prepared.read_bytes()
            except OSError as err:
                result.failures.append(
                    Failure(document.id, "content_unreadable", f"document {document.id!r}: {err}")
                )
                continue
            documents.append({**item.structure, "content": {"blob": blob}})
        if not documents:
            return

        def params(subset: list[dict[str, Any]]) -> dict[str, Any]:
            request = {**self._index_ids(), "dataSourceSyncId": sync_id, "documents": subset}
            if any("s3" in structure["content"] for structure in subset):
                request["roleArn"] = self.role_arn
            return request

        self._send_batch("BatchPutDocument", documents, "id", params, result)

    def _send_batch(
        self,
        operation: str,
        items: list[dict[str, Any]],
        id_key: str,
        params: Callable[[list[dict[str, Any]]], dict[str, Any]],
        result: BatchResult,
    ) -> None:
        """One batch call; a batch the service refuses as invalid is split to find the bad item."""
        outcome = self._call(operation, params(items))
        ids = [str(item[id_key]) for item in items]
        if isinstance(outcome, CallError):
            if outcome.kind is ErrorKind.FATAL:
                raise self._fatal_error(operation, outcome)
            if outcome.kind is ErrorKind.INVALID and len(items) > 1:
                middle = len(items) // 2
                self._send_batch(operation, items[:middle], id_key, params, result)
                self._send_batch(operation, items[middle:], id_key, params, result)
                return
            message = outcome.describe(operation)
            if outcome.kind is ErrorKind.INVALID and operation == "BatchPutDocument":
                problems = request_shape().document_problems(items[0])
                message = f"document {ids[0]!r}: " + "; ".join(problems) if problems else message
            result.failures.extend(Failure(doc_id, outcome.reason, message) for doc_id in ids)
            return
        failed = {
            str(entry.get("id")): entry.get("error") or {} for entry in outcome.get("failedDocuments", [])
        }
        for doc_id in ids:
            error = failed.get(doc_id)
            if error is None:
                result.accepted.append(doc_id)
            else:
                code = str(error.get("errorCode") or "service_error")
                message = str(error.get("errorMessage") or "no message")
                result.failures.append(Failure(doc_id, code, f"Q Business refused it ({code}): {message}"))

    # groups ----------------------------------------------------------------------------------

    def _put_group(self, group: Group) -> Failure | None:
        too_large = oversized_group(group)
        if too_large is not None:
            return too_large
        params = {**self._index_ids(), **group_request(group, self.data_source_id)}
        problems = operation_input_problems("PutGroup", params)
        if problems:
            return Failure(group.name, "invalid_group", f"group {group.name!r}: " + "; ".join(problems))
        outcome = self._call("PutGroup", params)
        if not isinstance(outcome, CallError):
            return None
        if outcome.kind is ErrorKind.FATAL:
            raise self._fatal_error("PutGroup", outcome)
        reason = "invalid_group" if outcome.kind is ErrorKind.INVALID else outcome.reason
        return Failure(group.name, reason, outcome.describe("PutGroup"))

    def _delete_group(self, name: str) -> Failure | None:
        params = {**self._index_ids(), "groupName": name, "dataSourceId": self.data_source_id}
        outcome = self._call("DeleteGroup", params)
        if not isinstance(outcome, CallError):
            return None
        if outcome.code == "ResourceNotFoundException" and outcome.resource_id == name:
            return None
        if outcome.kind is ErrorKind.FATAL:
            raise self._fatal_error("DeleteGroup", outcome)
        return Failure(name, outcome.reason, outcome.describe("DeleteGroup"))

    # calls -----------------------------------------------------------------------------------

    def _index_ids(self) -> dict[str, Any]:
        return {"applicationId": self.application_id, "indexId": self.index_id}

    def _ids(self) -> dict[str, Any]:
        return {**self._index_ids(), "dataSourceId": self.data_source_id}

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | CallError:
        return self._caller.call(operation, params)

    def _fatal_error(self, operation: str, error: CallError) -> QBusinessError:
        """The error to raise for a refusal no retry can fix; later calls fail fast with it."""
        if error.code.startswith("ResourceNotFound"):
            hint = (
                f"check application_id ({self.application_id}), index_id ({self.index_id}), "
                f"data_source_id ({self.data_source_id}) and the region"
            )
        else:
            hint = f"check that the credentials ccf runs with may call qbusiness:{operation}"
        fatal = QBusinessError(
            f"Amazon Q Business refused {operation}: {error.code}: {error.message}; {hint}"
        )
        self._fatal = fatal
        return fatal

    def _raise_if_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal


def _opened_copy(arguments: dict[str, Any], connector: str, sync: str, cancel: Any) -> QBusinessDestination:
    """A destination built from ``arguments``, sending to the sync job another process started."""
    copy = QBusinessDestination(**arguments)
    copy._connector, copy._sync_id, copy._caller.cancel_event = connector, sync, cancel
    return copy
