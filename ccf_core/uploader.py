"""Cuts prepared documents into batches, keeps several in flight, and records what was accepted.

A document is recorded as synced (its checksum stored) only after the destination accepted it, on
the engine's thread, one state transaction per batch.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from ccf_core.errors import SyncAborted
from ccf_core.ports import BatchResult, Destination, PreparedDocument, StateStore
from ccf_core.report import SyncReport

logger = logging.getLogger(__name__)

#: After this many batches in a row fail with an exception, the destination is taken to be down.
MAX_CONSECUTIVE_BATCH_ERRORS = 3


class BatchPipeline:
    """Submits batches to a destination, up to ``limits.max_in_flight`` at a time."""

    def __init__(self, destination: Destination, state: StateStore, connector: str, report: SyncReport):
        self.destination = destination
        self.state = state
        self.connector = connector
        self.report = report
        self.limits = destination.limits
        in_flight = max(1, self.limits.max_in_flight)
        self._executor = (
            ThreadPoolExecutor(in_flight, thread_name_prefix="ccf-upload") if in_flight > 1 else None
        )
        self._in_flight = in_flight
        self._pending: deque[tuple[Callable[[BatchResult | BaseException], None], Future[BatchResult]]] = (
            deque()
        )
        self._batch: list[PreparedDocument] = []
        self._batch_bytes = 0
        self._consecutive_errors = 0

    # documents -------------------------------------------------------------------------------

    def add(self, prepared: PreparedDocument) -> None:
        """Queue a document; a full batch is sent."""
        batch = self._batch
        if batch and (
            len(batch) >= self.limits.max_documents
            or self._batch_bytes + prepared.size > self.limits.max_bytes
        ):
            self.flush()
            batch = self._batch
        batch.append(prepared)
        self._batch_bytes += prepared.size

    def flush(self) -> None:
        """Send the batch being filled, if any."""
        if not self._batch:
            return
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        self._submit(partial(self.destination.put_documents, batch), partial(self._documents_done, batch))

    def _documents_done(
        self, batch: Sequence[PreparedDocument], outcome: BatchResult | BaseException
    ) -> None:
        report = self.report
        if isinstance(outcome, BaseException):
            message = f"{type(outcome).__name__}: {outcome}"
            for prepared in batch:
                report.fail(prepared.id, "destination_error", message)
            return
        accepted = set(outcome.accepted)
        records: list[tuple[str, str]] = []
        added = size = 0
        unanswered: list[str] = []
        for prepared in batch:
            doc_id = prepared.document.id
            if doc_id in accepted:
                records.append((doc_id, prepared.checksum))
                added += prepared.is_new
                size += prepared.size
            else:
                unanswered.append(doc_id)
        self.state.record(self.connector, records)
        report.added += added
        report.updated += len(records) - added
        report.bytes += size
        failed = set()
        for failure in outcome.failures:
            failed.add(failure.document_id)
            report.fail(failure.document_id, failure.reason, failure.message)
        for doc_id in unanswered:
            if doc_id not in failed:
                report.fail(doc_id, "no_response", "the destination neither accepted nor rejected it")

    # deletions and groups --------------------------------------------------------------------

    def delete(self, ids: Sequence[str]) -> None:
        """Delete ids in batches; forget each one the destination accepted."""
        self.flush()
        size = max(1, self.limits.max_delete_ids)
        for start in range(0, len(ids), size):
            chunk = list(ids[start : start + size])
            self._submit(
                partial(self.destination.delete_documents, chunk), partial(self._deletions_done, chunk)
            )
        self.drain()

    def _deletions_done(self, ids: list[str], outcome: BatchResult | BaseException) -> None:
        if isinstance(outcome, BaseException):
            for doc_id in ids:
                self.report.fail(doc_id, "delete_failed", f"{type(outcome).__name__}: {outcome}")
            return
        self.state.forget(self.connector, outcome.accepted)
        self.report.deleted += len(outcome.accepted)
        for failure in outcome.failures:
            self.report.fail(failure.document_id, failure.reason, failure.message)

    # plumbing --------------------------------------------------------------------------------

    def _submit(
        self, call: Callable[[], BatchResult], done: Callable[[BatchResult | BaseException], None]
    ) -> None:
        if self._executor is None:
            self._finish(done, _outcome(call))
            return
        self._pending.append((done, self._executor.submit(call)))
        while len(self._pending) >= self._in_flight:
            self._collect_one()

    def _collect_one(self) -> None:
        done, future = self._pending.popleft()
        try:
            outcome: BatchResult | BaseException = future.result()
        except Exception as err:
            outcome = err
        self._finish(done, outcome)

    def _finish(
        self, done: Callable[[BatchResult | BaseException], None], outcome: BatchResult | BaseException
    ) -> None:
        done(outcome)
        if isinstance(outcome, BaseException):
            self._consecutive_errors += 1
            logger.warning("batch failed: %s: %s", type(outcome).__name__, outcome)
            if self._consecutive_errors >= MAX_CONSECUTIVE_BATCH_ERRORS:
                raise SyncAborted(
                    "destination_unavailable",
                    f"{self._consecutive_errors} batches in a row failed; last error: "
                    f"{type(outcome).__name__}: {outcome}",
                ) from outcome
        else:
            self._consecutive_errors = 0

    def drain(self) -> None:
        """Wait for every batch in flight and record its outcome."""
        while self._pending:
            self._collect_one()

    def close(self) -> None:
        """Wait for what is in flight and record it (never aborting), then stop the worker threads."""
        first_error: Exception | None = None
        try:
            while self._pending:
                done, future = self._pending.popleft()
                try:
                    outcome: BatchResult | BaseException = future.result()
                except Exception as err:
                    outcome = err
                try:
                    done(outcome)
                except Exception as err:  # record the other batches all the same
                    first_error = first_error or err
            if first_error is not None:
                raise first_error
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)


def _outcome(call: Callable[[], BatchResult]) -> BatchResult | BaseException:
    try:
        return call()
    except Exception as err:
        return err
