"""Full-mode deletions at 100,000 documents, with the run's working set on disk."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccf_core import BatchLimits, Connector, DocumentVersion, SyncContext, SyncEngine
from ccf_core.engine import state_scope
from ccf_core.state import SqliteStateStore
from ccf_core.working_set import WorkingSet

STORED = 100_000
LISTED = 60_000
RECORD = "0" * 64 + ":" + "1" * 16 + ":v1"


class Listing(Connector):
    """Lists ``count`` ids with the version the state holds: every one is unchanged, none loaded."""

    name = "scale"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def documents(self, context: SyncContext) -> Iterator[DocumentVersion]:
        for number in range(self.count):
            yield DocumentVersion(f"doc-{number:06d}", "v1", load=self._never)

    @staticmethod
    def _never() -> None:
        raise AssertionError("an unchanged document was loaded")


@pytest.mark.slow
def test_a_full_run_deletes_exactly_the_ids_it_did_not_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_destination
) -> None:
    # Spill during the state's load, as a connector of millions would.
    monkeypatch.setattr("ccf_core.working_set.SPILL_AT", 10_000)
    spilled: list[bool] = []
    close = WorkingSet.close

    def note_layout(self: WorkingSet) -> None:
        spilled.append(self.on_disk)
        close(self)

    monkeypatch.setattr(WorkingSet, "close", note_layout)
    destination = make_destination(BatchLimits(max_documents=10, max_delete_ids=1_000))
    with SqliteStateStore(tmp_path / "state.db") as state:
        scope = state_scope("scale", destination)
        state.record(scope, ((f"doc-{number:06d}", RECORD) for number in range(STORED)))
        tracemalloc.start()
        report = SyncEngine(destination, state).run(Listing(LISTED))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        kept = dict(state.iter_checksums(scope))

    assert report.error is None
    assert (report.unchanged, report.deleted, report.failed) == (LISTED, STORED - LISTED, 0)
    assert destination.deleted_ids == [f"doc-{number:06d}" for number in range(LISTED, STORED)]
    assert len(kept) == LISTED and max(kept) == f"doc-{LISTED - 1:06d}"
    assert spilled[0] is True
    # 100,000 ids and records as Python strings take over 20 MB; pages keep the run far below.
    assert peak < 12 * 1024 * 1024, f"peak of traced allocations {peak / 1e6:.1f} MB"
