"""A run killed in the middle (SIGKILL, as the OOM killer or a lost container would) loses nothing.

A helper script syncs 50 documents in batches of 5 into the real ``LocalIndex`` with the real
``SqliteStateStore`` (in groups of two batches marked together), and kills its own process while the
destination is storing the first batch of a group, after the earlier batches were accepted and
recorded. The rerun in this process must send exactly what was not recorded, and the index must end
with every document exactly once.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from ccf_core import (
    BatchLimits,
    BatchResult,
    Connector,
    Document,
    PreparedDocument,
    RunStatus,
    SyncContext,
    SyncEngine,
    SyncReport,
)
from ccf_core.checksum import PENDING_UPDATE
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.engine import state_scope
from ccf_core.state import SqliteStateStore

TOTAL = 50
BATCH = 5
KILL_AFTER_BATCHES = 4

HELPER = textwrap.dedent(
    '''
    """Sync numbered documents into a local index, killing this process after some batches."""

    import os
    import signal
    import sys
    from pathlib import Path

    from ccf_core import BatchLimits, Connector, Document, DocumentMetadata, SyncEngine, uploader
    from ccf_core.destinations.local_index import LocalIndex
    from ccf_core.state import SqliteStateStore

    TOTAL = 50
    BATCH = 5


    class Numbers(Connector):
        name = "numbers"

        def documents(self, context):
            for number in range(TOTAL):
                yield Document(
                    id=f"doc-{number:03d}",
                    content=f"document number {number}",
                    metadata=DocumentMetadata(title=f"Document {number}"),
                )


    class SmallBatchIndex(LocalIndex):
        limits = BatchLimits(max_documents=BATCH)


    class KillingIndex(SmallBatchIndex):
        """Stores a batch, then dies before the engine hears back, once kill_after batches are in."""

        def __init__(self, path, kill_after):
            super().__init__(path)
            self.kill_after = kill_after
            self.calls = 0

        def put_documents(self, batch):
            result = super().put_documents(batch)
            self.calls += 1
            if self.calls > self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return result


    if __name__ == "__main__":
        # Accepted batches are recorded with the next group's marks: in groups of two, the kill
        # after four batches falls between groups, all four recorded.
        uploader.GROUP_MAX_BATCHES = 2
        workdir = Path(sys.argv[1])
        index = KillingIndex(workdir / "index.db", int(sys.argv[2]))
        SyncEngine(index, SqliteStateStore(workdir / "state.db")).run(Numbers())
        sys.exit("the helper was meant to be killed before the end of the run")
    '''
)


def load_helper(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("ccf_crash_helper", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_ids() -> list[str]:
    return [f"doc-{number:03d}" for number in range(TOTAL)]


@pytest.fixture
def killed_run(tmp_path: Path) -> tuple[Path, ModuleType]:
    """Run the helper until it kills itself; return its work directory and the helper module."""
    script = tmp_path / "crash_helper.py"
    script.write_text(HELPER)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(KILL_AFTER_BATCHES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    return tmp_path, load_helper(script)


def rerun(workdir: Path, helper: ModuleType) -> tuple[set[str], list[str], SyncReport]:
    """Sync again in this process; return the ids recorded before, the ids sent, and the report."""
    sent: list[str] = []

    class Recording(helper.SmallBatchIndex):  # type: ignore[name-defined, misc]
        def put_documents(self, batch: Sequence[PreparedDocument]) -> BatchResult:
            sent.extend(prepared.id for prepared in batch)
            return super().put_documents(batch)

    with SqliteStateStore(workdir / "state.db") as state, Recording(workdir / "index.db") as index:
        recorded_before = {
            doc_id
            for doc_id, value in state.load_checksums(state_scope("numbers", index)).items()
            if value != PENDING_UPDATE
        }
        report = SyncEngine(index, state).run(helper.Numbers())
    return recorded_before, sent, report


@pytest.mark.slow
def test_rerun_after_a_kill_sends_only_what_was_not_recorded(killed_run: tuple[Path, ModuleType]) -> None:
    recorded_before, sent, report = rerun(*killed_run)

    assert report.status is RunStatus.SUCCEEDED
    assert not recorded_before & set(sent)
    assert sorted(sent) == sorted(set(all_ids()) - recorded_before)
    assert len(sent) == len(set(sent))
    # The batch marked pending at the kill may or may not have reached the index: it counts as updated.
    assert (report.uploaded, report.unchanged) == (TOTAL - len(recorded_before), len(recorded_before))


@pytest.mark.slow
def test_rerun_after_a_kill_resends_no_batch_accepted_before_the_kill(
    killed_run: tuple[Path, ModuleType],
) -> None:
    """Only the batch the destination was storing when the process died is sent again (it was the
    first of its group; the batches of the groups before were recorded)."""
    _, sent, _ = rerun(*killed_run)

    assert sent == all_ids()[KILL_AFTER_BATCHES * BATCH :]


@pytest.mark.slow
def test_index_holds_every_document_once_after_the_rerun(killed_run: tuple[Path, ModuleType]) -> None:
    workdir, helper = killed_run

    with (
        SqliteStateStore(workdir / "state.db") as state,
        helper.SmallBatchIndex(workdir / "index.db") as index,
    ):
        SyncEngine(index, state).run(helper.Numbers())
        stored = [doc.id for doc in index.list_documents()]
        recorded = sorted(state.load_checksums(state_scope("numbers", index)))
        last = index.get("doc-049")

    assert stored == all_ids()
    assert recorded == all_ids()
    assert last is not None
    assert last.text == "document number 49"


@pytest.mark.slow
def test_index_held_the_unacknowledged_batch_before_the_rerun(killed_run: tuple[Path, ModuleType]) -> None:
    """The batch being stored at the kill reached the index but not the state: it is the one re-sent."""
    workdir, _ = killed_run

    with LocalIndex(workdir / "index.db") as index:
        stored = [doc.id for doc in index.list_documents()]

    assert stored == all_ids()[: (KILL_AFTER_BATCHES + 1) * BATCH]


def test_accepted_group_is_recorded_when_the_next_group_is_sent(
    make_doc, make_destination, state, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group of batches is marked pending before it is sent; its records join the next group's
    transaction."""
    monkeypatch.setattr("ccf_core.uploader.GROUP_MAX_BATCHES", 2)
    destination = make_destination(BatchLimits(max_documents=2))
    recorded_when_reading: list[int] = []

    class Watching(Connector):
        name = "watching"

        def documents(self, context: SyncContext) -> Iterator[Document]:
            for number in range(11):
                stored = state.load_checksums("watching").values()
                recorded_when_reading.append(sum(value != PENDING_UPDATE for value in stored))
                yield make_doc(f"d{number}")

    SyncEngine(destination, state).run(Watching())

    # The first group (d0 to d3) is sent when d4 is added, the second when d8 is: with its marks
    # go the records of the first.
    assert recorded_when_reading == [0] * 9 + [4, 4]
