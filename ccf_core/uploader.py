"""Cuts prepared documents into batches, keeps several in flight, and records what was accepted.

The state never claims more than the destination holds, whenever the process dies:

- before a batch is sent, its documents are marked pending in the state (the destination may hold
  the old version, the new one, or, for a new document, nothing or the new one);
- a document is recorded as synced (its checksum stored) only after the destination accepted it;
- before ids are deleted they are marked pending deletion, and forgotten once the destination
  deleted them.

A pending mark never matches a checksum, so the next run sends the document again if the source
still has it and deletes it if not.

State writes come in groups, as a state transaction costs more than its rows (a SQLite commit):
full batches wait, unmarked, in a group; when the group reaches a cap (:data:`GROUP_MAX_BATCHES`
and no more batches than may be in flight, :data:`GROUP_MAX_DOCUMENTS`, :data:`GROUP_MAX_BYTES`),
when its oldest batch has waited :data:`GROUP_MAX_WAIT_SECONDS` (looked at on each document
added: a slow connector does not hold its documents back for long, and no timer thread is
needed), or on ``flush``, ``drain`` and
``delete``, the marks of all its batches and the records of the batches that came back before
share one state transaction, on the engine's thread; only then are its batches sent, one by one,
each waiting for room in flight. A document of a group that was never marked (the run stopped) is
counted as failed, ``not_sent``; so is one of a marked group whose batch was not sent when the
destination went down, and it keeps its pending mark. As accepted documents are recorded with the
next group's marks, a process killed in the middle sends about one group again in its next run.
Deletions are grouped the same way (their ids are at hand, so without the wait).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial

from ccf_core.checksum import PENDING_DELETE, PENDING_UPDATE
from ccf_core.errors import SyncAborted
from ccf_core.ports import BatchResult, Destination, PreparedDocument, StateStore
from ccf_core.report import SyncReport
from ccf_core.working_set import in_pages

logger = logging.getLogger(__name__)

#: After this many batches in a row fail with an exception, the destination is taken to be down.
MAX_CONSECUTIVE_BATCH_ERRORS = 3

#: A destination that answers a batch faster than this is called on the engine's thread: handing
#: each batch to a worker costs more than the call (GIL hand-offs between 17 threads halved the
#: rate of a destination answering at once), while a remote service keeps its batches in flight.
INLINE_BELOW_SECONDS = 0.003

#: While batches go to the workers, one batch in this many is sent inline to measure the call again;
#: the gap doubles after each slow measure (a remote service rarely becomes fast in a run).
_PROBE_EVERY = 64

#: Caps of a group of batches marked pending in one state transaction. A commit costs more than
#: its rows (SQLite in WAL mode: 9.8 µs CPU per document at 10 documents per transaction, 7.2 µs at
#: 100), so larger groups save little more, while each one: holds its documents in memory until
#: sent (the byte cap bounds that for large documents), leaves its accepted documents unrecorded a
#: little longer (sent again after a crash), and delays its first batch.
GROUP_MAX_BATCHES = 16
GROUP_MAX_DOCUMENTS = 256
GROUP_MAX_BYTES = 32 * 1024 * 1024

#: A group whose oldest batch has waited this long is sent with the next document added.
GROUP_MAX_WAIT_SECONDS = 1.0

Done = Callable[[BatchResult | BaseException], None]
#: A batch to send: the destination call, what records its outcome, what counts it if never sent.
_Outgoing = tuple[Callable[[], BatchResult], Done, Callable[[str], None]]
_NOT_SENT = "the run stopped before it was sent"


class StateUnwritable(SyncAborted):
    """The state store refused a write: the run stops, as it can no longer keep its promises."""


class BatchPipeline:
    """Submits batches to a destination, up to ``limits.max_in_flight`` at a time.

    Args:
        destination: where the batches go.
        state: where documents are marked pending and recorded.
        connector: the state scope.
        report: counts what was sent, recorded and failed.
        clock: seconds, for the wait of a group (tests give a fake one).
    """

    def __init__(
        self,
        destination: Destination,
        state: StateStore,
        connector: str,
        report: SyncReport,
        clock: Callable[[], float] = time.monotonic,
    ):
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
        self._pending: deque[tuple[Done, Future[BatchResult]]] = deque()
        self._batch: list[PreparedDocument] = []
        self._batch_bytes = 0
        # Full batches not yet marked pending, and when the first of them was cut.
        self._group: list[list[PreparedDocument]] = []
        self._group_documents = 0
        self._group_bytes = 0
        self._group_since = 0.0
        self._group_full = False
        self._clock = clock
        self._consecutive_errors = 0
        # Accepted documents whose record waits for the next state transaction.
        self._accepted: list[PreparedDocument] = []
        # Seconds of the last batches sent inline; the fastest decides inline or workers (a pause of
        # the process only ever adds time, so one slow measure does not send batches to the workers).
        self._inline_seconds: deque[float] = deque(maxlen=3)
        self._since_probe = 0
        self._probe_every = _PROBE_EVERY

    # documents -------------------------------------------------------------------------------

    def add(self, prepared: PreparedDocument) -> None:
        """Queue a document; a full batch joins the group, and a full or old group is sent."""
        batch = self._batch
        if batch and (
            len(batch) >= self.limits.max_documents
            or self._batch_bytes + prepared.size > self.limits.max_bytes
        ):
            self._hold()
            batch = self._batch
        # The caps are looked at when a batch joins the group; only the wait needs the clock here.
        if self._group and (self._group_full or self._clock() - self._group_since >= GROUP_MAX_WAIT_SECONDS):
            try:
                self._send_group()
            except BaseException:  # an interrupt too: the document is counted
                self._fail_unsent([prepared], _NOT_SENT)
                raise
        batch.append(prepared)
        self._batch_bytes += prepared.size

    def flush(self) -> None:
        """Send the group and the batch being filled, once they are marked pending in the state."""
        if self._batch:
            self._hold()
        if self._group:
            self._send_group()

    def _hold(self) -> None:
        """Move the batch being filled into the group (unmarked, unsent)."""
        if not self._group:
            self._group_since = self._clock()
        self._group.append(self._batch)
        self._group_documents += len(self._batch)
        self._group_bytes += self._batch_bytes
        self._batch, self._batch_bytes = [], 0
        self._group_full = (
            len(self._group) >= self._group_batches()
            or self._group_documents >= GROUP_MAX_DOCUMENTS
            or self._group_bytes >= GROUP_MAX_BYTES
        )

    def _group_batches(self) -> int:
        """How many batches a group holds at most: no more than can be in flight at once.

        Batches of a group beyond the slots in flight would hold the engine until slots free,
        while the workers then idle as the next group fills.
        """
        return GROUP_MAX_BATCHES if self._in_flight == 1 else min(GROUP_MAX_BATCHES, self._in_flight)

    def _send_group(self) -> None:
        """Mark every batch of the group pending in one state transaction, then send them one by one.

        Raises:
            StateUnwritable: the state refused the marks; no batch of the group was sent.
            SyncAborted: the destination is down; the batches of the group not sent are counted.
        """
        group = self._group
        self._group, self._group_documents, self._group_bytes, self._group_full = [], 0, 0, False
        put = self.destination.put_documents
        self._mark_and_send(
            [(prepared.id, PENDING_UPDATE) for batch in group for prepared in batch],
            deque(
                (partial(put, batch), partial(self._documents_done, batch), partial(self._fail_unsent, batch))
                for batch in group
            ),
        )

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
        failed = set()
        for failure in outcome.failures:
            failed.add(failure.document_id)
            report.fail(failure.document_id, failure.reason, failure.message)
        refused_new: list[str] = []
        for prepared in batch:
            if prepared.id in accepted:
                self._accepted.append(prepared)
                continue
            if prepared.id not in failed:
                report.fail(prepared.id, "no_response", "the destination neither accepted nor rejected it")
            if prepared.is_new:
                refused_new.append(prepared.id)
        # A refused new document is not in the destination: drop its mark. A refused update keeps
        # its mark, so the next run sends it again whatever the destination held before.
        if refused_new:
            self.state.forget(self.connector, refused_new)

    def _write_state(self, marks: list[tuple[str, str]]) -> None:
        """Record the accepted documents and write ``marks``, in one transaction; count what was recorded.

        Raises:
            StateUnwritable: when the state store refused; the accepted documents are counted as
                failed (the destination holds them, the next run sends them again).
        """
        accepted, self._accepted = self._accepted, []
        if not accepted and not marks:
            return
        try:
            self.state.record(self.connector, [(p.id, p.checksum) for p in accepted] + marks)
        except BaseException as err:  # an interrupt too: the accepted documents are counted
            message = f"accepted by the destination but not recorded: {type(err).__name__}: {err}"
            for prepared in accepted:
                self.report.fail(prepared.id, "state_unwritable", message)
            if not isinstance(err, Exception):
                raise
            raise StateUnwritable("state_unwritable", f"the state store refused a write: {err}") from err
        report = self.report
        added = sum(1 for prepared in accepted if prepared.is_new)
        report.added += added
        report.updated += len(accepted) - added
        report.bytes += sum(prepared.size for prepared in accepted)

    def _fail_unsent(self, batch: Sequence[PreparedDocument], why: str) -> None:
        """Count documents that were prepared but never sent (the run is stopping)."""
        for prepared in batch:
            self.report.fail(prepared.id, "not_sent", f"not sent: {why}")

    def _mark_and_send(self, marks: list[tuple[str, str]], outgoing: deque[_Outgoing]) -> None:
        """Write ``marks`` and the pending records in one transaction, then submit each batch in turn.

        A batch not submitted when the run stops (the state refused the write, the destination is
        down) is counted by its ``unsent(why)``; the one being submitted is counted by its outcome.
        """
        why = "the state store refused a write"
        try:
            self._write_state(marks)
            why = _NOT_SENT
            while outgoing:
                self._make_room()
                call, done, _ = outgoing.popleft()
                self._submit(call, done)
        except BaseException as err:  # an interrupt too: every document is counted once
            for _, _, unsent in outgoing:
                unsent(why if isinstance(err, Exception) else _NOT_SENT)
            raise

    # deletions -------------------------------------------------------------------------------

    def delete(self, ids: Iterable[str]) -> None:
        """Delete ids in batches, each marked pending deletion (a group at a time) before it is sent;
        forget what was deleted.

        ``ids`` is read a group of batches at a time (:data:`GROUP_MAX_DOCUMENTS` ids, or one
        batch), so it may stream millions of ids.
        """
        self.flush()
        size = max(1, self.limits.max_delete_ids)
        per_group = max(1, min(self._group_batches(), GROUP_MAX_DOCUMENTS // size))
        delete = self.destination.delete_documents
        for group in in_pages(in_pages(ids, size), per_group):
            self._mark_and_send(
                [(doc_id, PENDING_DELETE) for chunk in group for doc_id in chunk],
                deque(
                    (
                        partial(delete, chunk),
                        partial(self._deletions_done, chunk),
                        partial(self._undeleted, chunk),
                    )
                    for chunk in group
                ),
            )
        self.drain()

    def _undeleted(self, ids: list[str], why: str) -> None:
        """Count ids that were never sent for deletion (the run is stopping)."""
        for doc_id in ids:
            self.report.fail(doc_id, "delete_failed", f"not deleted: {why}")

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

    def _make_room(self) -> None:
        """Wait until one more batch may go in flight."""
        while len(self._pending) >= self._in_flight:
            self._collect_one()

    def _submit(self, call: Callable[[], BatchResult], done: Done) -> None:
        if self._executor is None:
            self._call_inline(call, done)
            return
        self._since_probe += 1
        measured = min(self._inline_seconds) if self._inline_seconds else None
        if measured is None or measured < INLINE_BELOW_SECONDS or self._since_probe >= self._probe_every:
            if measured is not None and measured >= INLINE_BELOW_SECONDS:
                self._probe_every = min(self._probe_every * 2, 64 * _PROBE_EVERY)
            self._since_probe = 0
            started = time.perf_counter()
            self._call_inline(call, done)
            self._inline_seconds.append(time.perf_counter() - started)
            return
        self._pending.append((done, self._executor.submit(call)))

    def _call_inline(self, call: Callable[[], BatchResult], done: Done) -> None:
        """Call on the engine's thread; an interrupt in the call counts its batch failed, then goes on."""
        try:
            outcome = _outcome(call)
        except BaseException as err:
            done(err)
            raise
        self._finish(done, outcome)

    def _collect_one(self) -> None:
        """Record the outcome of one batch in flight: the first to finish, not the oldest.

        A batch waiting out a throttle's backoff must not hold back the slots of the batches
        sent after it.
        """
        if not self._pending[0][1].done():
            wait([future for _, future in self._pending], return_when=FIRST_COMPLETED)
            for position, (_, future) in enumerate(self._pending):
                if future.done():
                    self._pending.rotate(-position)
                    break
        done, future = self._pending.popleft()
        try:
            outcome: BatchResult | BaseException = future.result()
        except Exception as err:
            outcome = err
        self._finish(done, outcome)

    def _finish(self, done: Done, outcome: BatchResult | BaseException) -> None:
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
        """Send the group (not the batch being filled), wait for every batch in flight, record outcomes."""
        if self._group:
            self._send_group()
        while self._pending:
            self._collect_one()
        self._write_state([])

    def close(self) -> None:
        """Record what is in flight (never aborting), count what was never sent (the group and the batch
        being filled), stop the threads."""
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
            try:
                self._write_state([])
            except StateUnwritable as err:
                first_error = first_error or err
            for batch in [*self._group, self._batch]:
                self._fail_unsent(batch, _NOT_SENT)
            self._group, self._group_documents, self._group_bytes, self._group_full = [], 0, 0, False
            self._batch, self._batch_bytes = [], 0
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
