"""The pipeline records batches as they finish: a slow batch does not hold the slots of later ones."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ccf_core import BatchLimits, BatchResult, Document, DocumentMetadata, PreparedDocument, SyncReport
from ccf_core.state import MemoryStateStore
from ccf_core.uploader import BatchPipeline


class HeldFirstBatch:
    """Holds the first batch until the third one arrives (a FIFO pipeline would wait for ever)."""

    name = "held"
    limits = BatchLimits(max_documents=1, max_in_flight=2)

    def __init__(self) -> None:
        self.third_arrived = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
        with self.lock:
            self.calls += 1
            call = self.calls
        if call == 1:
            if not self.third_arrived.wait(timeout=10):
                raise TimeoutError("the third batch was never sent while the first was held")
        elif call == 3:
            self.third_arrived.set()
        return BatchResult(accepted=[prepared.id for prepared in batch])


def _prepared(number: int) -> PreparedDocument:
    doc = Document(id=f"d{number}", content="x", metadata=DocumentMetadata(title="t"))
    return PreparedDocument(doc, "c" * 64, 1, True)


def test_a_batch_held_by_the_destination_does_not_block_the_next_ones() -> None:
    destination = HeldFirstBatch()
    state = MemoryStateStore()
    report = SyncReport(connector="c", mode="full", destination="held")
    pipeline = BatchPipeline(destination, state, "c", report)  # type: ignore[arg-type]
    try:
        for number in range(4):
            pipeline.add(_prepared(number))
        pipeline.flush()
        pipeline.drain()
    finally:
        pipeline.close()

    assert report.failed == 0 and report.added == 4
    assert sorted(state.load_checksums("c")) == ["d0", "d1", "d2", "d3"]
