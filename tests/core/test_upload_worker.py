"""The upload pipeline in a second process (``SyncOptions(upload_process=True)``).

Runs into the real ``LocalIndex`` and ``SqliteStateStore`` end in the same index and state as runs
with the pipeline in the engine's process, and keep the same promises when the worker fails, is
killed in the middle, or the run is cancelled: every scanned document is counted once, and the
state never records a document the index does not hold.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import astuple
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ccf_core import (
    AccessControl,
    BatchLimits,
    Connector,
    Document,
    DocumentFile,
    DocumentMetadata,
    RunInfo,
    RunStatus,
    SyncContext,
    SyncEngine,
    SyncOptions,
    SyncReport,
)
from ccf_core.checksum import PENDING_DELETE, PENDING_UPDATE, checksum_and_content
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.models.acl import Principal, PrincipalUser
from ccf_core.ports import BatchResult, PreparedDocument
from ccf_core.report import Failure
from ccf_core.state import SqliteStateStore
from ccf_core.testing import AcceptingDestination
from ccf_core.upload_serve import _decode, _encode
from ccf_core.upload_worker import WorkerPipeline, worker_factories

TOTAL = 700
WORKER = "ccf-upload"


def worker_alive() -> bool:
    return any(process.name == WORKER and process.is_alive() for process in multiprocessing.active_children())


class Texts(Connector):
    """Documents of ``texts`` (id -> text); ``during(number, context)`` runs before each one."""

    name = "texts"

    def __init__(
        self,
        texts: dict[str, str],
        during: Callable[[int, SyncContext], None] | None = None,
        broken: bool = False,
    ) -> None:
        super().__init__()
        self.texts = texts
        self.during = during
        self.broken = broken  # every 97th document without a title (which Q Business refuses)
        self.saw_worker = False

    def documents(self, context: SyncContext) -> Iterator[Document]:
        for number, (doc_id, text) in enumerate(self.texts.items()):
            if self.during is not None:
                self.during(number, context)
            if number == len(self.texts) // 2:
                self.saw_worker = worker_alive()
            serial = int(doc_id.rpartition("-")[2])
            yield Document(
                id=doc_id,
                content=text,
                metadata=DocumentMetadata(
                    title="" if self.broken and serial % 97 == 5 else f"Title of {doc_id}",
                    source_uri=f"https://example.com/{doc_id}",
                    attributes={"number": serial, "tags": ["a", "b"], "kind": "text"},
                    last_updated_at=datetime(2025, 1, 1 + serial % 28, tzinfo=UTC),
                ),
            )


def texts(count: int = TOTAL, version: str = "") -> dict[str, str]:
    return {f"doc-{number:04d}": f"text {number} {version}" for number in range(count)}


def run(
    folder: Path, connector: Connector, upload_process: bool, destination: LocalIndex | None = None
) -> SyncReport:
    index = destination or LocalIndex(folder / "index.db")
    state = SqliteStateStore(folder / "state.db")
    try:
        return SyncEngine(index, state, SyncOptions(upload_process=upload_process)).run(connector)
    finally:
        state.close()
        if destination is None:
            index.shutdown()


def stored(folder: Path) -> dict[str, tuple[Any, ...]]:
    """What the index holds: every field of every document but when it was indexed."""
    index = LocalIndex(folder / "index.db")
    try:
        return {
            document.id: (
                document.title,
                document.content_type,
                document.source_uri,
                document.last_updated_at,
                document.attributes,
                document.acl,
                document.checksum,
                document.size,
                document.text,
            )
            for document in index.list_documents()
        }
    finally:
        index.shutdown()


def records(folder: Path, connector: str = "texts") -> dict[str, str]:
    index = LocalIndex(folder / "index.db")
    scope = f"{connector}@{index.identity}"
    index.shutdown()
    state = SqliteStateStore(folder / "state.db")
    try:
        return state.load_checksums(scope)
    finally:
        state.close()


def assert_state_within_index(folder: Path, connector: str = "texts") -> None:
    """Every document the state records as synced is in the index, with the recorded checksum."""
    held = stored(folder)
    for doc_id, value in records(folder, connector).items():
        if value in (PENDING_UPDATE, PENDING_DELETE):
            continue
        assert doc_id in held, f"the state records {doc_id}, which the index does not hold"
        assert held[doc_id][6] == value.partition(":")[0]


def assert_every_document_counted(report: SyncReport) -> None:
    counted = report.added + report.updated + report.unchanged + report.failed + report.skipped
    assert counted == report.scanned, report.to_text()


def test_a_worker_run_ends_as_a_run_in_the_engines_process(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    first, second = texts(), texts()
    for number in range(0, TOTAL, 7):
        second[f"doc-{number:04d}"] += " changed"
    for number in range(1, TOTAL, 11):
        del second[f"doc-{number:04d}"]

    reports = []
    for folder, upload_process in ((here, False), (there, True)):
        connector = Texts(first, broken=True)
        reports.append(run(folder, connector, upload_process))
        assert connector.saw_worker is upload_process
        reports.append(run(folder, Texts(second, broken=True), upload_process))

    def counts(report: SyncReport) -> tuple[int, ...]:
        return (report.scanned, report.added, report.updated, report.unchanged, report.deleted, report.failed)

    invalid = {doc_id for doc_id in first if int(doc_id[4:]) % 97 == 5}
    kept = set(second) - invalid
    changed = sum(1 for doc_id in kept if first[doc_id] != second[doc_id])
    deleted = len(set(first) - set(second) - invalid)
    failed = len(invalid & set(second))
    assert counts(reports[3]) == (len(second), 0, changed, len(kept) - changed, deleted, failed)
    assert [counts(report) for report in reports[2:]] == [counts(report) for report in reports[:2]]
    failures = [sorted(map(astuple, report.failures)) for report in reports]
    assert failures[2:] == failures[:2]
    assert reports[1].failures_by_reason == {"invalid_document": failed}
    assert stored(there) == stored(here)
    assert records(there) == records(here)
    assert all(report.status is RunStatus.COMPLETED_WITH_FAILURES for report in reports)


def test_files_acls_and_content_of_the_connectors_own_code_cross_over(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"x" * 3_000_000)
    (tmp_path / "small.txt").write_text("small file")

    class Generated(Document):
        """Content only the connector's code makes (no file to read)."""

        def iter_content(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
            yield b"made "
            yield b"by the connector"

        def read_bytes(self) -> bytes:
            return b"".join(self.iter_content())

    documents = [
        Document(id="big", file=DocumentFile(tmp_path / "big.txt"), metadata=DocumentMetadata(title="Big")),
        Document(
            id="small",
            file=DocumentFile(tmp_path / "small.txt"),
            metadata=DocumentMetadata(
                title="Small",
                created_at=datetime(2024, 5, 6, 7, 8, tzinfo=UTC),
                attributes={"owners": ["ann", "bob"], "size": 10},
                access_control_list=[AccessControl(principals=[Principal(user=PrincipalUser(id="ann"))])],
            ),
        ),
        Generated(
            id="made", file=DocumentFile(tmp_path / "absent.txt"), metadata=DocumentMetadata(title="Made")
        ),
    ]
    for document in documents:
        checksum, size, content = checksum_and_content(document)
        prepared = PreparedDocument(document, checksum, size, True, document.resolved_content_type(), content)

        copy = _decode(_encode(prepared))

        assert copy.document.metadata == document.metadata
        assert (copy.checksum, copy.size, copy.is_new) == (checksum, size, True)
        assert copy.content_type == prepared.content_type
        assert copy.read_bytes() == prepared.read_bytes()
    assert copy.read_bytes() == b"made by the connector"


class Vanishing(Document):
    """Content in two pieces from the connector's code, gone when it is read again to be sent."""

    error: ClassVar[Exception] = FileNotFoundError("the source dropped it")

    def iter_content(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        yield b"first "
        yield b"second"

    def read_bytes(self) -> bytes:
        raise self.error


@pytest.mark.parametrize(
    "error", [FileNotFoundError("the source dropped it"), RuntimeError("the source dropped it")]
)
def test_content_that_cannot_be_read_again_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    monkeypatch.setattr(Vanishing, "error", error)

    class Mixed(Texts):
        def documents(self, context: SyncContext) -> Iterator[Document]:
            yield from super().documents(context)
            gone = DocumentFile(tmp_path / "gone.txt")  # a version is given: the file is never looked at
            yield Vanishing(id="gone", file=gone, version="1", metadata=DocumentMetadata(title="g"))

    report = run(tmp_path, Mixed(texts(40)), True)

    assert (report.added, report.failures_by_reason["content_unreadable"]) == (40, 1)
    assert "the source dropped it" in report.failures[0].message
    assert_every_document_counted(report)


def test_destinations_that_cannot_be_built_again_keep_the_pipeline_in_the_engines_process(
    tmp_path: Path,
) -> None:
    class Subclass(LocalIndex):
        pass

    subclass = Subclass(tmp_path / "index.db")
    for destination in (AcceptingDestination(), subclass):
        connector = Texts(texts(50))
        state = SqliteStateStore(tmp_path / "state.db")
        report = SyncEngine(destination, state, SyncOptions(upload_process=True)).run(connector)
        state.close()
        assert (report.status, report.added, connector.saw_worker) == (RunStatus.SUCCEEDED, 50, False)
    subclass.shutdown()


def test_a_worker_that_cannot_start_leaves_the_run_in_the_engines_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_process(*args: Any, **kwargs: Any) -> None:
        raise OSError("fork limit reached")

    monkeypatch.setattr(multiprocessing.get_context("spawn").Process, "start", no_process)
    connector = Texts(texts(30))

    report = run(tmp_path, connector, True)

    assert (report.status, report.added, connector.saw_worker) == (RunStatus.SUCCEEDED, 30, False)
    assert "no upload process could be started (fork limit reached)" in caplog.text
    assert sorted(stored(tmp_path)) == sorted(texts(30))


class FailingIndex(LocalIndex):
    """Stores ``fail_after`` batches of 50, then raises for every one (in the worker)."""

    limits = BatchLimits(max_documents=50, max_bytes=1 << 20, max_delete_ids=50, max_in_flight=1)

    def __init__(self, path: str | os.PathLike[str], fail_after: int) -> None:
        super().__init__(path)
        self.fail_after = fail_after
        self.calls = 0

    def put_documents(self, batch: Any) -> Any:
        self.calls += 1
        if self.calls > self.fail_after:
            raise ConnectionError("the index is down")
        return super().put_documents(batch)

    def worker_factory(self) -> Any:
        run = self._run
        assert run is not None
        return partial(_failing_copy, str(self.path), self.fail_after, run.connector, run.run_id, run.full)


def _failing_copy(
    path: str, fail_after: int, connector: str, run_id: str, full: bool, cancel: Any
) -> FailingIndex:
    index = FailingIndex(path, fail_after)
    index.open(RunInfo(connector, run_id, full, cancel_event=cancel))
    return index


class SlowIndex(LocalIndex):
    """Takes ``delay`` seconds a batch of 50; with ``refuse``, refuses every document with a long
    message (a service's verbose error)."""

    limits = BatchLimits(max_documents=50, max_bytes=1 << 20, max_delete_ids=50, max_in_flight=1)

    def __init__(self, path: str | os.PathLike[str], delay: float, refuse: bool = False) -> None:
        super().__init__(path)
        self.delay, self.refuse = delay, refuse

    def put_documents(self, batch: Any) -> Any:
        time.sleep(self.delay)
        if self.refuse:
            return BatchResult(failures=[Failure(p.id, "service_error", "x" * 8000) for p in batch])
        return super().put_documents(batch)

    def worker_factory(self) -> Any:
        run = self._run
        assert run is not None
        return partial(_slow_copy, str(self.path), self.delay, self.refuse, run.connector, run.run_id)


def _slow_copy(path: str, delay: float, refuse: bool, connector: str, run_id: str, cancel: Any) -> Any:
    index = SlowIndex(path, delay, refuse)
    index.open(RunInfo(connector, run_id, True, cancel_event=cancel))
    return index


def test_long_failure_messages_from_a_slow_worker_do_not_hold_the_two_processes(tmp_path: Path) -> None:
    """The engine, waiting for room to hand documents over, reads what the worker says meanwhile:
    else both wait, each on a full pipe."""
    index = SlowIndex(tmp_path / "index.db", 0.005, refuse=True)
    index_thread = ThreadWithResult(lambda: run(tmp_path, Texts(texts(12_000)), True, index))

    report = index_thread.result(timeout=120)
    index.shutdown()

    assert report.failures_by_reason["service_error"] == 12_000
    assert_every_document_counted(report)


def test_documents_waiting_to_be_handed_over_are_counted_when_the_worker_dies(tmp_path: Path) -> None:
    def kill_the_worker(number: int, context: SyncContext) -> None:
        if number == 9000:  # the worker lags far behind: the engine waits to hand documents over
            (worker,) = [process for process in multiprocessing.active_children() if process.name == WORKER]
            assert worker.pid is not None
            os.kill(worker.pid, signal.SIGKILL)

    index = SlowIndex(tmp_path / "index.db", 0.01)
    report = run(tmp_path, Texts(texts(12_000), during=kill_the_worker), True, index)
    index.shutdown()

    assert report.status is RunStatus.FAILED
    assert report.failures_by_reason["not_confirmed"] > 0
    assert_every_document_counted(report)
    assert_state_within_index(tmp_path)


def test_a_deletion_cut_short_still_lets_the_worker_close(tmp_path: Path) -> None:
    index, state = LocalIndex(tmp_path / "index.db"), SqliteStateStore(tmp_path / "state.db")
    index.open(RunInfo("texts", "r1", True))
    factories = worker_factories(index, state)
    assert factories is not None
    pipeline = WorkerPipeline(factories, "texts@x", SyncReport("texts", "full", "local"))

    def ids() -> Iterator[str]:
        yield from (f"id-{number}" for number in range(1500))
        raise KeyboardInterrupt("a second Ctrl-C while the deletions stream")

    with pytest.raises(KeyboardInterrupt):
        pipeline.delete(ids())
    closing = ThreadWithResult(pipeline.close)

    closing.result(timeout=30)
    index.shutdown()
    state.close()


class ThreadWithResult:
    """``function()`` in a thread; :meth:`result` fails the test if it has not returned in time."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self._outcome: list[Any] = []
        self._thread = threading.Thread(target=lambda: self._outcome.append(function()), daemon=True)
        self._thread.start()

    def result(self, timeout: float) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"still running after {timeout} s: the processes hold each other"
        return self._outcome[0] if self._outcome else None


def test_a_destination_down_in_the_worker_fails_the_run_and_counts_every_document(tmp_path: Path) -> None:
    index = FailingIndex(tmp_path / "index.db", fail_after=2)

    report = run(tmp_path, Texts(texts()), True, index)
    index.shutdown()

    assert report.status is RunStatus.FAILED
    assert report.error is not None and report.error.startswith("destination_unavailable")
    # Two batches stored, three refused (three failures in a row: the destination is down).
    assert (report.added, report.failures_by_reason["destination_error"]) == (100, 150)
    assert report.failures_by_reason["not_sent"] > 0
    assert_every_document_counted(report)
    synced = {doc_id for doc_id, value in records(tmp_path).items() if value != PENDING_UPDATE}
    assert synced == set(stored(tmp_path))  # the two batches stored; the refused ones stay pending
    assert_state_within_index(tmp_path)


def test_a_killed_worker_fails_the_run_and_the_next_run_sends_what_it_had_not_recorded(
    tmp_path: Path,
) -> None:
    def kill_the_worker(number: int, context: SyncContext) -> None:
        if number == 600:
            (worker,) = [process for process in multiprocessing.active_children() if process.name == WORKER]
            assert worker.pid is not None
            os.kill(worker.pid, signal.SIGKILL)
            worker.join(10)

    report = run(tmp_path, Texts(texts(), during=kill_the_worker), True)

    assert report.status is RunStatus.FAILED
    assert report.error is not None and "upload process ended unexpectedly" in report.error
    assert report.failures_by_reason["not_confirmed"] > 0
    assert_every_document_counted(report)
    assert_state_within_index(tmp_path)

    again = run(tmp_path, Texts(texts()), True)

    assert again.status is RunStatus.SUCCEEDED
    assert again.added + again.updated + again.unchanged == TOTAL
    assert sorted(stored(tmp_path)) == sorted(texts())
    assert set(records(tmp_path).values()).isdisjoint({PENDING_UPDATE, PENDING_DELETE})
    assert_state_within_index(tmp_path)


def test_a_cancelled_run_stops_with_what_the_worker_recorded(tmp_path: Path) -> None:
    def cancel(number: int, context: SyncContext) -> None:
        if number == 300:
            context.cancel_event.set()

    report = run(tmp_path, Texts(texts(), during=cancel), True)

    assert report.status is RunStatus.STOPPED
    assert report.scanned == 300
    assert_every_document_counted(report)
    assert_state_within_index(tmp_path)
    assert not worker_alive()


def test_the_worker_ends_with_its_run(tmp_path: Path) -> None:
    report = run(tmp_path, Texts(texts(20)), True)

    assert report.added == 20
    assert not worker_alive()


HELPER = textwrap.dedent(
    '''
    """Sync 1,200 documents with the upload process, and kill this (the engine's) process at 1,100."""

    import multiprocessing
    import os
    import signal
    import sys
    import time
    from pathlib import Path

    from ccf_core import Connector, Document, DocumentMetadata, SyncEngine, SyncOptions
    from ccf_core.destinations.local_index import LocalIndex
    from ccf_core.state import SqliteStateStore


    class Numbers(Connector):
        name = "numbers"

        def documents(self, context):
            for number in range(1200):
                if number == 1100:
                    (worker,) = [p for p in multiprocessing.active_children() if p.name == "ccf-upload"]
                    Path(sys.argv[2]).write_text(str(worker.pid))
                    # The worker takes in what was handed over: two batches of 500 reach the index.
                    deadline = time.monotonic() + 60
                    while WATCHED.count() < 1000 and time.monotonic() < deadline:
                        time.sleep(0.02)
                    os.kill(os.getpid(), signal.SIGKILL)
                yield Document(
                    id=f"doc-{number:04d}", content=f"number {number}", metadata=DocumentMetadata(title="n")
                )


    if __name__ == "__main__":
        folder = Path(sys.argv[1])
        WATCHED = LocalIndex(folder / "index.db")
        index, state = LocalIndex(folder / "index.db"), SqliteStateStore(folder / "state.db")
        SyncEngine(index, state, SyncOptions(upload_process=True)).run(Numbers())
    '''
)


@pytest.mark.slow
def test_the_worker_records_what_was_accepted_when_the_engines_process_is_killed(tmp_path: Path) -> None:
    """Batches accepted by the index are recorded with the next state write; the engine's process
    dies before it, and the worker, finding the pipe closed, records them as it ends."""
    script, pid_file = tmp_path / "helper.py", tmp_path / "worker.pid"
    script.write_text(HELPER)

    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(pid_file)],
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == -signal.SIGKILL, result.stderr
    wait_for_exit(int(pid_file.read_text()))
    numbers = [f"doc-{number:04d}" for number in range(1200)]
    # Two batches of 500 reached the index; the second was recorded by the worker alone.
    assert sorted(stored(tmp_path)) == numbers[:1000]
    recorded = records(tmp_path, "numbers")
    assert sorted(recorded) == numbers[:1000]
    assert PENDING_UPDATE not in recorded.values()
    assert_state_within_index(tmp_path, "numbers")


def wait_for_exit(pid: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker {pid} still runs after {seconds} s")
