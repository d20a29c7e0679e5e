"""The upload pipeline in a second process: batching, the destination's calls and the state's writes
off the engine's CPU.

A first sync of many small documents spends about a third of the engine's CPU in the pipeline
(the destination's requests, the state's pending marks and records), and a thread cannot take it
over: the GIL hands it back and forth at a cost larger than the work. With
``SyncOptions(upload_process=True)``, a destination and a state store that can be built again in
another process (a ``worker_factory()`` method that returns a picklable factory, or None), the
engine hands its prepared documents to a :class:`~ccf_core.uploader.BatchPipeline` in a spawned
process, over a pipe, 256 at a time (or sooner, when the first of them has waited
:data:`HAND_OVER_SECONDS`). Otherwise, or when the factories cannot be sent, the pipeline runs in
the engine's process as before. The worker also checks the documents against Q Business's rules
(the engine's process then does not), which evens out the two processes' work.

The promises of the pipeline hold across the two processes, as the worker keeps them itself:
documents are marked pending before they are sent and recorded once accepted, in the state file
both processes open. What the worker counts (added, updated, deleted, failures) comes back with
each answer and is added to the engine's report. When the worker ends unexpectedly, the run
fails, and the documents handed to it that it had not accounted for are counted failed
(``not_confirmed``): the state holds them pending or not at all, so the next run sends them again.
When the engine's process ends, the worker sees the pipe close, records what was accepted and ends.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ccf_core.errors import SyncAborted
from ccf_core.ports import Destination, PreparedDocument, StateStore
from ccf_core.report import MAX_LISTED_FAILURES, Failure, SyncReport
from ccf_core.upload_serve import (
    Described,
    DestinationFactory,
    StateFactory,
    UploadWorkerError,
    _encode,
    _raise,
    _serve,
)
from ccf_core.working_set import in_pages

__all__ = ["UploadWorkerError", "WorkerPipeline", "worker_factories"]

logger = logging.getLogger(__name__)

#: Documents handed to the worker in one message.
HAND_OVER_DOCUMENTS = 256

#: A document waits at most this long in the engine's process before it is handed over (a slow
#: connector's documents are not held back).
HAND_OVER_SECONDS = 0.2

#: A message is handed over once its documents hold this many bytes of content.
HAND_OVER_BYTES = 1024 * 1024

#: Messages waiting for the engine's sender thread; past this many, the engine waits. The thread
#: writes to the pipe while the engine goes on (a worker that starts, or a pipe that is full, does
#: not hold it up), and the bound keeps the memory they hold at a few tens of MB.
OUTBOX_MESSAGES = 32

#: Ids of deletions sent to the worker in one message.
DELETE_PAGE = 1000

#: How long the engine waits for the worker to end once it was told to close.
CLOSE_TIMEOUT_SECONDS = 30.0


def worker_factories(
    destination: Destination, state: StateStore
) -> tuple[DestinationFactory, StateFactory] | None:
    """The factories of a worker's destination and state, or None when either cannot be built there."""
    factories = []
    for part, name in ((destination, f"destination {destination.name}"), (state, f"state {state.name}")):
        make = getattr(part, "worker_factory", None)
        factory = None if make is None else make()
        if factory is None:
            logger.info(
                "the upload pipeline stays in the engine's process: the %s cannot be built in another", name
            )
            return None
        factories.append(factory)
    destination_factory, state_factory = factories
    try:
        pickle.dumps((destination_factory, state_factory))
    except Exception as err:  # a client object, a lambda: the pipeline stays in this process
        logger.info(
            "the upload pipeline stays in the engine's process: the destination or the state cannot be "
            "sent to another (%s)",
            err,
        )
        return None
    return destination_factory, state_factory


# the engine's side --------------------------------------------------------------------------------


class WorkerPipeline:
    """A :class:`~ccf_core.uploader.BatchPipeline` in a worker process, driven from the engine's.

    Same methods and promises as the pipeline it stands for; what the worker counts is added to
    ``report`` as it comes back.
    """

    def __init__(
        self,
        factories: tuple[DestinationFactory, StateFactory],
        scope: str,
        report: SyncReport,
        cancel_event: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.report = report
        self._cancel_event = cancel_event
        self._cancel = context.Event()
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, factories, self._cancel, scope, (report.connector, report.mode, report.destination)),
            name="ccf-upload",
            daemon=True,
        )
        self._process.start()
        child.close()
        logger.info("the upload pipeline runs in process %s", self._process.pid)
        self._rows: list[tuple[Any, ...]] = []
        self._rows_bytes = 0
        self._since = 0.0
        self._clock = clock
        self._handed = 0
        self._concluded = 0
        self._closed = False
        self._raised = False
        self._gone_already = False
        self._pending_error: Described | None = None
        self._outbox: queue.Queue[bytes | None] = queue.Queue(OUTBOX_MESSAGES)
        self._unsent = False
        self._sender = threading.Thread(target=self._send_all, name="ccf-upload-sender", daemon=True)
        self._sender.start()

    # the pipeline's methods ---------------------------------------------------------------------

    def add(self, prepared: PreparedDocument) -> None:
        """Hand a document over (with the next full message, or once the first waiting is old)."""
        try:
            row = _encode(prepared)
        except Exception as err:  # content that only a read now gives (the connector's code), failing
            message = f"document {prepared.id!r}: cannot read content: {type(err).__name__}: {err}"
            self.report.fail(prepared.id, "content_unreadable", message)
            return
        rows = self._rows
        if not rows:
            self._since = self._clock()
        rows.append(row)
        self._rows_bytes += prepared.size
        if (
            len(rows) >= HAND_OVER_DOCUMENTS
            or self._rows_bytes >= HAND_OVER_BYTES
            or self._clock() - self._since >= HAND_OVER_SECONDS
        ):
            self._hand_over()

    def flush(self) -> None:
        """Hand over what waits here, and have the worker send everything it holds."""
        self._hand_over()
        self._send(("flush",))

    def drain(self) -> None:
        """:meth:`flush`, then wait until every batch sent came back and was recorded."""
        self._hand_over()
        self._send(("drain",))
        self._answer()

    def delete(self, ids: Iterable[str]) -> None:
        """Delete ``ids`` in the worker, streamed a page at a time; wait until it is done."""
        self._hand_over()
        self._send(("delete",))
        try:
            for page in in_pages(ids, DELETE_PAGE):
                self._send(("ids", page))
        finally:
            if not self._gone_already:  # the worker reads ids up to this mark, whatever happened
                self._send(("ids_end",))
        self._answer()

    def close(self) -> None:
        """Have the worker record what is in flight and end (its waits cut short when the run was
        cancelled); count what never reached it."""
        if self._closed:
            return
        self._closed = True
        for row in self._rows:
            self.report.fail(row[0], "not_sent", "not sent: the run stopped before it was sent")
        self._rows = []
        if self._cancel_event is not None and self._cancel_event.is_set():
            self._cancel.set()
        error = None
        if self._gone_already:
            self._stop_sender()
            self._connection.close()
            return
        try:
            self._send(("close",))
            while True:
                self._wait_for_worker()
                kind, delta, error = self._receive()
                self._merge(delta)
                if kind == "closed":
                    break
        finally:
            self._stop_sender()
            self._process.join(CLOSE_TIMEOUT_SECONDS)
            if self._process.is_alive():
                self._process.kill()
            self._connection.close()
        if error is not None and not self._raised:
            self._reported(error)

    # plumbing --------------------------------------------------------------------------------------

    def _hand_over(self) -> None:
        if not self._rows:
            return
        rows, self._rows, self._rows_bytes = self._rows, [], 0
        try:
            self._send(("add", rows))
        except BaseException:  # the worker is gone, or an interrupt: these never reached it
            for row in rows:
                self.report.fail(row[0], "not_sent", "not sent: the upload process stopped")
            raise
        self._handed += len(rows)
        self._take_news()

    def _take_news(self) -> None:
        """Merge what the worker said meanwhile; raise the error it reports."""
        if self._pending_error is not None:
            self._reported(self._pending_error)
        while self._connection.poll():
            _, delta, error = self._receive()
            self._merge(delta)
            if error is not None:
                self._reported(error)

    def _wait_for_worker(self) -> None:
        """Wait until the worker says something; tell it at once when the run is cancelled."""
        while not self._connection.poll(0.2):
            if self._cancel_event is not None and self._cancel_event.is_set():
                self._cancel.set()

    def _answer(self) -> None:
        """Wait for the worker's answer to a drain or a deletion; raise the error it reports."""
        while True:
            self._wait_for_worker()
            kind, delta, error = self._receive()
            self._merge(delta)
            if error is not None:
                self._reported(error)
            if kind == "answer":
                return

    def _reported(self, error: Described) -> None:
        self._raised = True
        _raise(error)

    def _send(self, message: tuple[Any, ...]) -> None:
        """Queue ``message`` for the sender thread (waiting while the queue is full)."""
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        while True:
            if self._unsent:
                self._gone()
            try:
                self._outbox.put(data, timeout=0.2)
                return
            except queue.Full:
                # The worker may be waiting for us to read what it said: read it while waiting
                # (its errors are raised once this message is queued, when the caller looks).
                while self._connection.poll():
                    _, delta, error = self._receive()
                    self._merge(delta)
                    self._pending_error = self._pending_error or error
                if self._cancel_event is not None and self._cancel_event.is_set():
                    self._cancel.set()
                if not self._process.is_alive():
                    self._unsent = True

    def _send_all(self) -> None:
        """The sender thread: write the queued messages to the pipe, in order."""
        while (data := self._outbox.get()) is not None:
            try:
                self._connection.send_bytes(data)
            except OSError:
                self._unsent = True  # the worker is gone; the engine's next call says so
                return

    def _stop_sender(self) -> None:
        if self._sender.is_alive():
            with contextlib.suppress(queue.Full):
                self._outbox.put(None, timeout=CLOSE_TIMEOUT_SECONDS)
            self._sender.join(CLOSE_TIMEOUT_SECONDS)

    def _receive(self) -> tuple[str, dict[str, Any] | None, Described | None]:
        try:
            message: tuple[str, dict[str, Any] | None, Described | None] = self._connection.recv()
        except (EOFError, OSError):
            self._gone()
        return message

    def _merge(self, delta: dict[str, Any] | None) -> None:
        if delta is None:
            return
        report = self.report
        report.added += delta["added"]
        report.updated += delta["updated"]
        report.deleted += delta["deleted"]
        report.bytes += delta["bytes"]
        report.failed += delta["failed"]
        report.failures_by_reason.update(delta["by_reason"])
        room = MAX_LISTED_FAILURES - len(report.failures)
        report.failures.extend(Failure(*failure) for failure in delta["failures"][: max(0, room)])
        self._concluded = delta["concluded"]

    def _gone(self) -> Any:
        """The worker ended without closing: count what it had not accounted for, fail the run."""
        with contextlib.suppress(EOFError, OSError):  # what it said before it ended counts
            while self._connection.poll():
                self._merge(self._connection.recv()[1])
        self._process.join(1.0)
        code = self._process.exitcode
        unconfirmed = max(0, self._handed - self._concluded)
        self._handed = self._concluded
        self._gone_already = True
        if unconfirmed:
            self.report.failed += unconfirmed
            self.report.failures_by_reason["not_confirmed"] += unconfirmed
        self._raised = True
        raise SyncAborted(
            "upload_process_ended",
            f"the upload process ended unexpectedly (exit code {code}); {unconfirmed} documents handed to "
            "it were not confirmed: the state keeps them pending, and the next run sends them again",
        )
