"""Batches marked pending a group at a time: one state transaction per group, every promise kept.

The state is a real SQLite store; what the destination can read of it when called is read in a
connection of its own, so only committed marks count.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from ccf_core import BatchLimits, BatchResult, Document, DocumentMetadata, PreparedDocument, SyncReport
from ccf_core.checksum import PENDING_DELETE, PENDING_UPDATE
from ccf_core.errors import SyncAborted
from ccf_core.state import SqliteStateStore
from ccf_core.testing import AcceptingDestination
from ccf_core.uploader import (
    GROUP_MAX_BATCHES,
    GROUP_MAX_BYTES,
    GROUP_MAX_WAIT_SECONDS,
    BatchPipeline,
    StateUnwritable,
)

SCOPE = "c"
#: Documents in a full group of batches of ten (the Q Business batch).
GROUP = GROUP_MAX_BATCHES * 10


class CountingState(SqliteStateStore):
    """The SQLite store, counting its committed transactions; refuses ``record`` from a given call."""

    def __init__(self, path: Path, refuse_from: int | None = None) -> None:
        super().__init__(path)
        self._new_scope_id(SCOPE, "document")  # numbered once in the file's life: not counted
        self.commits = 0
        self.records = 0
        self.refuse_from = refuse_from
        self._db.set_trace_callback(self._count)

    def _count(self, statement: str) -> None:
        if statement == "COMMIT":
            self.commits += 1

    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = "document") -> None:
        self.records += 1
        if self.refuse_from is not None and self.records >= self.refuse_from:
            raise sqlite3.OperationalError("disk I/O error")
        super().record(connector, items, kind)


def committed(path: Path) -> dict[str, str]:
    """What another process would read of the state now."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return dict(db.execute("SELECT item_id, checksum FROM synced WHERE connector = ?", (SCOPE,)))


class Accepting(AcceptingDestination):
    """Accepts everything, counting its calls under a lock (they may come from worker threads)."""

    def __init__(self, limits: BatchLimits) -> None:
        super().__init__(limits)
        self.lock = threading.Lock()

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        with self.lock:
            return super().put_documents(batch)

    def delete_documents(self, document_ids: Sequence[str]) -> BatchResult:
        with self.lock:
            return super().delete_documents(document_ids)


class CheckingDestination(Accepting):
    """Accepts everything; on each call, notes what of the state it gets is not committed as pending."""

    def __init__(self, state_path: Path, limits: BatchLimits) -> None:
        super().__init__(limits)
        self.state_path = state_path
        self.problems: list[str] = []
        self.marked_at_first_call: set[str] | None = None

    def _check(self, ids: Sequence[str], mark: str) -> None:
        held = committed(self.state_path)
        with self.lock:
            if self.marked_at_first_call is None:
                self.marked_at_first_call = {doc_id for doc_id, value in held.items() if value == mark}
            self.problems += [f"{doc_id}: {held.get(doc_id)}" for doc_id in ids if held.get(doc_id) != mark]

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        self._check([prepared.id for prepared in batch], PENDING_UPDATE)
        return super().put_documents(batch)

    def delete_documents(self, document_ids: Sequence[str]) -> BatchResult:
        self._check(document_ids, PENDING_DELETE)
        return super().delete_documents(document_ids)


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def checksum(doc_id: str) -> str:
    return hashlib.sha256(doc_id.encode()).hexdigest()


def prepared(number: int, *, is_new: bool = True, size: int = 1) -> PreparedDocument:
    doc_id = f"d{number:04d}"
    document = Document(id=doc_id, content="x", metadata=DocumentMetadata(title=doc_id))
    return PreparedDocument(document, checksum(doc_id), size, is_new)


def pipeline_for(destination: object, state: SqliteStateStore, clock: Clock | None = None) -> BatchPipeline:
    report = SyncReport(connector=SCOPE, mode="full", destination="test")
    if clock is None:
        return BatchPipeline(destination, state, SCOPE, report)  # type: ignore[arg-type]
    return BatchPipeline(destination, state, SCOPE, report, clock=clock)  # type: ignore[arg-type]


def sync(pipeline: BatchPipeline, documents: Iterable[PreparedDocument]) -> SyncReport:
    try:
        for document in documents:
            pipeline.add(document)
        pipeline.flush()
        pipeline.drain()
    finally:
        pipeline.close()
    return pipeline.report


@pytest.fixture(params=["inline", "workers"])
def in_flight(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Batches sent on the engine's thread, then on workers (every batch after the first), as many
    as a group holds."""
    if request.param == "inline":
        return 1
    monkeypatch.setattr("ccf_core.uploader.INLINE_BELOW_SECONDS", 0.0)
    return GROUP_MAX_BATCHES


def test_a_group_is_committed_as_pending_before_any_of_its_batches_is_sent(
    tmp_path: Path, in_flight: int
) -> None:
    path = tmp_path / "state.db"
    destination = CheckingDestination(path, BatchLimits(max_documents=10, max_in_flight=in_flight))
    with CountingState(path) as state:
        report = sync(pipeline_for(destination, state), (prepared(n) for n in range(3 * GROUP + 25)))

        assert destination.problems == []
        assert destination.marked_at_first_call == {f"d{n:04d}" for n in range(GROUP)}
        assert report.added == 3 * GROUP + 25 and report.failed == 0
        assert committed(path) == {f"d{n:04d}": checksum(f"d{n:04d}") for n in range(3 * GROUP + 25)}


def test_state_transactions_are_one_per_group_not_one_per_batch(tmp_path: Path, in_flight: int) -> None:
    destination = Accepting(BatchLimits(max_documents=10, max_in_flight=in_flight))
    with CountingState(tmp_path / "state.db") as state:
        sync(pipeline_for(destination, state), (prepared(n) for n in range(10 * GROUP)))

        assert destination.calls == 10 * GROUP // 10
        # Ten groups marked (each with the records of the one before), the last records at the end.
        assert state.commits == 11


def test_full_batches_wait_in_the_group_until_it_reaches_its_cap(tmp_path: Path) -> None:
    destination = Accepting(BatchLimits(max_documents=10))
    with CountingState(tmp_path / "state.db") as state:
        pipeline = pipeline_for(destination, state, Clock())
        for number in range(GROUP):
            pipeline.add(prepared(number))
        assert destination.calls == 0 and committed(tmp_path / "state.db") == {}

        pipeline.add(prepared(GROUP))  # the last batch joins the group: it is full

        assert destination.calls == GROUP_MAX_BATCHES
        assert state.commits == 1
        pipeline.close()


def test_a_group_of_large_documents_is_sent_at_its_byte_cap(tmp_path: Path) -> None:
    size = GROUP_MAX_BYTES // 8 + 1  # two to a batch; past the cap with the fourth batch
    destination = Accepting(BatchLimits(max_documents=10, max_bytes=2 * size))
    with CountingState(tmp_path / "state.db") as state:
        pipeline = pipeline_for(destination, state, Clock())
        for number in range(8):
            pipeline.add(prepared(number, size=size))
        assert destination.calls == 0

        pipeline.add(prepared(8, size=size))

        assert destination.calls == 4
        pipeline.close()


def test_a_slow_connector_gets_its_batches_sent_once_the_group_waited(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    destination = Accepting(BatchLimits(max_documents=10))
    clock = Clock()
    with CountingState(path) as state:
        pipeline = pipeline_for(destination, state, clock)
        for number in range(11):  # the eleventh moves the full batch into the group
            pipeline.add(prepared(number))
        clock.now += GROUP_MAX_WAIT_SECONDS / 2
        pipeline.add(prepared(11))
        assert destination.calls == 0

        clock.now += GROUP_MAX_WAIT_SECONDS / 2
        pipeline.add(prepared(12))

        assert destination.calls == 1
        assert committed(path) == {f"d{n:04d}": PENDING_UPDATE for n in range(10)}
        report = sync(pipeline, [])
        assert report.added == 13 and destination.calls == 2


def test_refused_documents_are_counted_once_refused_new_ones_forgotten_updates_kept_pending(
    tmp_path: Path, make_destination, in_flight: int
) -> None:
    path = tmp_path / "state.db"
    destination = make_destination(BatchLimits(max_documents=10, max_in_flight=in_flight))
    for doc_id in ("d0003", "d0250"):
        destination.reject(doc_id)
    for doc_id in ("d0007", "d0301"):
        destination.ignore(doc_id)
    updates = range(200)  # recorded before; the others are new
    with CountingState(path) as state:
        state.record(SCOPE, [(f"d{n:04d}", "old") for n in updates])
        report = sync(pipeline_for(destination, state), (prepared(n, is_new=n >= 200) for n in range(400)))

        assert (report.updated, report.added, report.failed) == (198, 198, 4)
        assert dict(report.failures_by_reason) == {"access_denied": 2, "no_response": 2}
        held = committed(path)
    assert "d0250" not in held and "d0301" not in held
    assert held["d0003"] == held["d0007"] == PENDING_UPDATE
    assert len(held) == 398
    assert all(held[doc_id] == checksum(doc_id) for doc_id in destination.documents)


def test_a_state_that_refuses_a_write_stops_the_run_and_every_document_is_counted_once(
    tmp_path: Path, in_flight: int
) -> None:
    path = tmp_path / "state.db"
    destination = Accepting(BatchLimits(max_documents=10, max_in_flight=in_flight))
    with CountingState(path, refuse_from=2) as state:
        pipeline = pipeline_for(destination, state)
        added = 0
        with pytest.raises(StateUnwritable):
            for number in range(5 * GROUP):
                added += 1
                pipeline.add(prepared(number))
        with contextlib.suppress(StateUnwritable):  # records of batches still in flight, refused again
            pipeline.close()

        report = pipeline.report
        # The first group was sent and accepted but not recorded, the second never sent.
        assert added == 2 * GROUP + 1
        assert dict(report.failures_by_reason) == {"state_unwritable": GROUP, "not_sent": GROUP + 1}
        assert report.failed == added and report.added == 0
        assert destination.calls == GROUP_MAX_BATCHES
        assert committed(path) == {f"d{n:04d}": PENDING_UPDATE for n in range(GROUP)}


def test_batches_of_a_group_left_when_the_destination_is_down_are_counted_not_sent(
    tmp_path: Path, make_destination
) -> None:
    destination = make_destination(BatchLimits(max_documents=10))
    destination.raise_on_puts(1, 2, 3)
    with CountingState(tmp_path / "state.db") as state:
        pipeline = pipeline_for(destination, state)
        with pytest.raises(SyncAborted, match="3 batches in a row failed"):
            for number in range(2 * GROUP):
                pipeline.add(prepared(number))
        pipeline.close()

        report = pipeline.report
        assert dict(report.failures_by_reason) == {"destination_error": 30, "not_sent": GROUP - 30 + 1}
        assert len(destination.put_batches) == 3


def test_a_group_never_sent_is_counted_not_sent_and_never_marked(tmp_path: Path) -> None:
    destination = Accepting(BatchLimits(max_documents=10))
    with CountingState(tmp_path / "state.db") as state:
        pipeline = pipeline_for(destination, state, Clock())
        for number in range(45):
            pipeline.add(prepared(number))

        pipeline.close()  # the run stopped (cancelled): four batches in the group, one being filled

        assert dict(pipeline.report.failures_by_reason) == {"not_sent": 45}
        assert destination.calls == 0 and state.commits == 0


def test_deletions_are_marked_a_group_at_a_time_before_they_are_sent(tmp_path: Path, in_flight: int) -> None:
    path = tmp_path / "state.db"
    destination = CheckingDestination(path, BatchLimits(max_delete_ids=10, max_in_flight=in_flight))
    ids = [f"d{n:04d}" for n in range(2 * GROUP + 5)]
    with CountingState(path) as state:
        state.record(SCOPE, [(doc_id, checksum(doc_id)) for doc_id in ids])
        pipeline = pipeline_for(destination, state)
        try:
            pipeline.delete(iter(ids))
        finally:
            pipeline.close()

        assert destination.problems == []
        assert destination.marked_at_first_call == set(ids[:GROUP])
        assert pipeline.report.deleted == len(ids)
        assert state.records == 1 + 3  # the set-up, then three groups of marks
    assert committed(path) == {}


def test_a_group_holds_no_more_batches_than_may_be_in_flight(tmp_path: Path, monkeypatch) -> None:
    """Batches beyond the slots would hold the engine while the workers then idle as a group fills."""
    monkeypatch.setattr("ccf_core.uploader.INLINE_BELOW_SECONDS", 0.0)
    destination = Accepting(BatchLimits(max_documents=10, max_in_flight=4))
    with CountingState(tmp_path / "state.db") as state:
        report = sync(pipeline_for(destination, state), (prepared(n) for n in range(400)))

        assert report.added == 400
        # Ten groups of four batches, each with the records of the ones before; the last at the end.
        assert state.commits == 11


class Interrupting(Accepting):
    """Accepts batches until its ``at``-th call, which is interrupted (a second Ctrl-C)."""

    def __init__(self, limits: BatchLimits, at: int) -> None:
        super().__init__(limits)
        self.at = at

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        if self.calls + 1 == self.at:
            self.calls += 1
            raise KeyboardInterrupt
        return super().put_documents(batch)


class InterruptedState(CountingState):
    def record(self, connector: str, items: Iterable[tuple[str, str]], kind: str = "document") -> None:
        if self.records == 1:
            self.records += 1
            raise KeyboardInterrupt
        super().record(connector, items, kind)


@pytest.mark.parametrize("where", ["destination call", "state write"])
def test_an_interrupt_while_a_group_is_sent_leaves_every_document_counted_once(
    tmp_path: Path, where: str
) -> None:
    limits = BatchLimits(max_documents=10)
    if where == "destination call":
        destination, state = Interrupting(limits, at=3), CountingState(tmp_path / "state.db")
    else:
        destination, state = Accepting(limits), InterruptedState(tmp_path / "state.db")
    pipeline = pipeline_for(destination, state)
    added = 0
    with state, pytest.raises(KeyboardInterrupt):
        try:
            for number in range(3 * GROUP):
                pipeline.add(prepared(number))
                added += 1
        finally:
            pipeline.close()
    report = pipeline.report

    counted = report.added + report.failed
    assert counted == added + 1  # the document being added when the interrupt came is counted too
    assert len({failure.document_id for failure in report.failures}) == report.failed
