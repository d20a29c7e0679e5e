"""Where and in what order the pipeline sends batches: inline for a fast destination, else on workers,
recorded as they finish so that a slow batch does not hold the slots of later ones."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from ccf_core import BatchLimits, BatchResult, Document, DocumentMetadata, PreparedDocument, SyncReport
from ccf_core.state import MemoryStateStore
from ccf_core.uploader import BatchPipeline


class Destination:
    """Accepts everything, noting the thread of each call; can hold one call until a later one."""

    name = "held"
    limits = BatchLimits(max_documents=1, max_in_flight=2)

    def __init__(self, hold: int | None = None, until: int | None = None) -> None:
        self.hold, self.until = hold, until
        self.arrived = threading.Event()
        self.calls = 0
        self.threads: list[str] = []
        self.lock = threading.Lock()

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        with self.lock:
            self.calls += 1
            call = self.calls
            self.threads.append(threading.current_thread().name)
        if call == self.hold and not self.arrived.wait(timeout=10):
            raise TimeoutError("the later batch was never sent while this one was held")
        if call == self.until:
            self.arrived.set()
        return BatchResult(accepted=[prepared.id for prepared in batch])


def _sync(destination: Destination, count: int) -> tuple[SyncReport, MemoryStateStore]:
    state = MemoryStateStore()
    report = SyncReport(connector="c", mode="full", destination="held")
    pipeline = BatchPipeline(destination, state, "c", report)  # type: ignore[arg-type]
    try:
        for number in range(count):
            doc = Document(id=f"d{number}", content="x", metadata=DocumentMetadata(title="t"))
            pipeline.add(PreparedDocument(doc, "c" * 64, 1, True))
        pipeline.flush()
        pipeline.drain()
    finally:
        pipeline.close()
    return report, state


def test_a_batch_held_by_the_destination_does_not_block_the_next_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second batch is held until the fourth arrives: a pipeline waiting for the oldest would hang."""
    monkeypatch.setattr(
        "ccf_core.uploader.INLINE_BELOW_SECONDS", 0.0
    )  # every batch after the first on workers
    destination = Destination(hold=2, until=4)

    report, state = _sync(destination, 5)

    assert report.failed == 0 and report.added == 5
    assert sorted(state.load_checksums("c")) == [f"d{number}" for number in range(5)]


def test_a_destination_that_answers_at_once_is_called_on_the_engine_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ccf_core.uploader.INLINE_BELOW_SECONDS", 60.0)
    destination = Destination()

    report, _ = _sync(destination, 6)

    assert report.added == 6
    assert set(destination.threads) == {threading.current_thread().name}


def test_a_slow_destination_gets_its_batches_on_workers_after_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ccf_core.uploader.INLINE_BELOW_SECONDS", 0.0)
    destination = Destination()

    report, _ = _sync(destination, 6)

    assert report.added == 6
    assert destination.threads[0] == threading.current_thread().name
    assert all(name.startswith("ccf-upload") for name in destination.threads[1:])
