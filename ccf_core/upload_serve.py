"""The upload worker's side of :mod:`ccf_core.upload_worker`: what crosses the pipe, and the
process that runs the pipeline.

The engine's process sends ``("add", rows)`` (prepared documents as plain tuples), ``("flush",)``,
``("drain",)``, ``("delete",)`` followed by ``("ids", page)`` messages and ``("ids_end",)``, and
``("close",)``. The worker answers a drain or a deletion with ``("answer", counts, error)``, tells
what it counted meanwhile with ``("news", counts, error)``, and ends with ``("closed", counts,
error)``; ``counts`` is what its report gained since its last message.
"""

from __future__ import annotations

import contextlib
import gc
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from ccf_core.changes import invalid_document
from ccf_core.checksum import reads_its_file
from ccf_core.errors import CCFError, SyncAborted
from ccf_core.models.document import Document, DocumentFile, DocumentMetadata
from ccf_core.ports import Destination, PreparedDocument, StateStore
from ccf_core.report import SyncReport
from ccf_core.uploader import BatchPipeline, StateUnwritable
from ccf_core.validation import document_problems

#: Failures listed in one unasked message of the worker (the rest come with the next ones).
NEWS_FAILURES = 32

#: Builds the worker's copy of the destination, given the run's cancel event.
DestinationFactory = Callable[[Any], Destination]
StateFactory = Callable[[], StateStore]

#: An error of the worker as it crosses the pipe: ``(kind, reason, message)``.
Described = tuple[str, str, str]


class UploadWorkerError(CCFError):
    """The worker failed in a way that is not one of the pipeline's own errors."""


# what crosses the pipe ----------------------------------------------------------------------------


def _encode(prepared: PreparedDocument) -> tuple[Any, ...]:
    """A prepared document as plain values (a pydantic model pickles at 13 µs, this tuple at 0.5)."""
    document = prepared.document
    meta = document.metadata
    content, path = prepared.content, None
    if content is None:
        if reads_its_file(document):
            assert document.file is not None
            path = str(document.file.path)
        else:  # content only the connector's own code can produce
            content = prepared.read_bytes()
    return (
        document.id,
        meta.title,
        meta.source_uri,
        meta.created_at,
        meta.last_updated_at,
        meta.attributes,
        meta.access_control_list or None,
        meta.access_control_relation,
        prepared.resolved_content_type(),
        document.version,
        path,
        content,
        prepared.checksum,
        prepared.size,
        prepared.is_new,
        prepared.fingerprint_size,
    )


def _decode(row: tuple[Any, ...]) -> PreparedDocument:
    (doc_id, title, uri, created, updated, attributes, acl, relation, content_type, version, path, content,
     checksum, size, is_new, fingerprint_size) = row  # fmt: skip
    metadata = DocumentMetadata(
        title=title,
        source_uri=uri,
        created_at=created,
        last_updated_at=updated,
        attributes=attributes,
        access_control_list=acl or [],
        access_control_relation=relation,
    )
    document = Document(
        id=doc_id,
        metadata=metadata,
        file=None if path is None else DocumentFile(path),
        content=content if path is None else None,
        content_type=content_type,
        version=version,
    )
    return PreparedDocument(document, checksum, size, is_new, content_type, content, fingerprint_size)


class _Counts:
    """What the worker's report gained since the last message, for the engine's report."""

    def __init__(self, report: SyncReport) -> None:
        self.report = report
        self._added = self._updated = self._deleted = self._bytes = self._failed = 0
        self._listed = 0
        self._by_reason: dict[str, int] = {}
        #: Documents handed over and accounted for (added, updated or failed outside deletions).
        self.concluded = 0

    def take(self, deleting: bool = False, listed: int | None = None) -> dict[str, Any] | None:
        """The counts gained since the last call (None when none); at most ``listed`` of the new
        failures listed (the others come with a later call), so a message stays small."""
        report = self.report
        failed = report.failed - self._failed
        if not deleting:
            self.concluded += report.added - self._added + report.updated - self._updated + failed
        end = None if listed is None else self._listed + listed
        failures = [
            (item.document_id, item.reason, item.message) for item in report.failures[self._listed : end]
        ]
        delta = {
            "added": report.added - self._added,
            "updated": report.updated - self._updated,
            "deleted": report.deleted - self._deleted,
            "bytes": report.bytes - self._bytes,
            "failed": failed,
            "by_reason": {
                reason: count - self._by_reason.get(reason, 0)
                for reason, count in report.failures_by_reason.items()
                if count != self._by_reason.get(reason, 0)
            },
            "failures": failures,
            "concluded": self.concluded,
        }
        self._added, self._updated, self._deleted = report.added, report.updated, report.deleted
        self._bytes, self._failed = report.bytes, report.failed
        self._listed += len(failures)
        self._by_reason = dict(report.failures_by_reason)
        changed = any(delta[key] for key in ("added", "updated", "deleted", "failed", "failures"))
        return delta if changed else None


def _describe(err: BaseException) -> Described:
    """An error of the worker as it crosses the pipe: ``(kind, reason, message)``."""
    if isinstance(err, StateUnwritable):
        return ("state", err.reason, str(err))
    if isinstance(err, SyncAborted):
        return ("aborted", err.reason, str(err))
    text = str(err) if isinstance(err, CCFError) else f"{type(err).__name__}: {err}"
    return ("other", type(err).__name__, text)


def _raise(error: Described) -> None:
    """Raise in the engine's process the error the worker reported."""
    kind, reason, message = error
    if kind == "state":
        raise StateUnwritable(reason, message)
    if kind == "aborted":
        raise SyncAborted(reason, message)
    raise UploadWorkerError(message)


# the worker ---------------------------------------------------------------------------------------


def _serve(
    connection: Connection,
    factories: tuple[DestinationFactory, StateFactory],
    cancel: Any,
    scope: str,
    header: tuple[str, str, str],
) -> None:
    """The worker's whole life: build the pipeline, answer the engine's messages, close."""
    # The engine's process decides when to stop (it tells this one, or its end closes the pipe).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _Worker(connection, factories, cancel, scope, SyncReport(*header)).serve()


class _Worker:
    """The worker's side: a pipeline fed by the engine's messages; its error, once it stopped."""

    def __init__(
        self,
        connection: Connection,
        factories: tuple[DestinationFactory, StateFactory],
        cancel: Any,
        scope: str,
        report: SyncReport,
    ) -> None:
        self.connection = connection
        self.report = report
        self.cancel = cancel
        self.counts = _Counts(report)
        self.pipeline: BatchPipeline | None = None
        self.error: Described | None = None
        try:
            make_destination, make_state = factories
            self.pipeline = BatchPipeline(make_destination(cancel), make_state(), scope, report)
        except Exception as err:
            self.error = _describe(err)
            with contextlib.suppress(OSError):
                connection.send(("news", None, self.error))

    def serve(self) -> None:
        """Answer the engine's messages until it says close or its end closes the pipe, then close."""
        # A pipe that breaks either way means the engine's process is gone: what was accepted is
        # recorded all the same, as the pipeline closes.
        with contextlib.suppress(EOFError, OSError):
            self._serve()
        self._close()

    def _serve(self) -> None:
        connection = self.connection
        frozen = False
        while True:
            message = connection.recv()
            kind = message[0]
            if kind == "close":
                return
            if kind == "add":
                self._add(message[1])
                if not frozen:
                    # What the first documents loaded (the destination's models) stays for the run:
                    # the collector's full passes need not walk it again and again.
                    gc.freeze()
                    frozen = True
            elif kind == "delete":
                ids = _IdStream(connection)
                self._call("delete", ids)
                ids.skip()
                if ids.closing:  # the engine stopped in the middle of the ids and said close
                    return
            else:
                self._call("drain" if kind == "drain" else "flush")
            if kind in ("drain", "delete"):
                connection.send(("answer", self.counts.take(deleting=kind == "delete"), self.error))
                continue
            # Unasked news stays small (the engine also reads it while it waits to send).
            delta = self.counts.take(listed=NEWS_FAILURES)
            if delta is not None or self.error is not None:
                connection.send(("news", delta, self.error))

    def _call(self, method: str, *args: Any) -> None:
        """Call a method of the pipeline, unless it stopped; keep the error that stops it."""
        if self.error is None and self.pipeline is not None:
            try:
                getattr(self.pipeline, method)(*args)
            except Exception as err:
                self.error = _describe(err)

    def _add(self, rows: list[tuple[Any, ...]]) -> None:
        """Add the documents of a message to the pipeline.

        Once the pipeline stopped, or the run was cancelled, the documents that reach it are
        counted not sent (the engine's process handed them over before it heard of it).
        """
        report = self.report
        for position, row in enumerate(rows):
            if self.error is not None or self.pipeline is None or self.cancel.is_set():
                for rest in rows[position:]:
                    report.fail(rest[0], "not_sent", "not sent: the upload process stopped")
                return
            try:
                prepared = _decode(row)
            except Exception as err:  # a model that refuses its own values
                report.fail(row[0], "invalid_document", f"document {row[0]!r}: {err}")
                continue
            problems = document_problems(prepared.document, prepared.content_type)
            if problems:  # the rules of Q Business, checked here rather than in the engine's process
                report.fail(row[0], "invalid_document", invalid_document(row[0], problems))
                continue
            self._call("add", prepared)  # the pipeline counts the document if it raises

    def _close(self) -> None:
        close_error = None
        if self.pipeline is not None:
            try:
                self.pipeline.close()
            except Exception as err:
                close_error = _describe(err)
        with contextlib.suppress(OSError):
            self.connection.send(("closed", self.counts.take(), close_error or self.error))


class _IdStream:
    """The ids of a deletion, read from the engine's messages to the end marker (or a close, when
    the engine stopped in the middle of them)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.ended = False
        self.closing = False

    def __iter__(self) -> Iterator[str]:
        while not self.ended:
            message = self.connection.recv()
            if message[0] != "ids":
                self.ended = True
                self.closing = message[0] == "close"
                return
            yield from message[1]

    def skip(self) -> None:
        """Read what is left of them (the pipeline stopped in the middle)."""
        for _ in self:
            pass
