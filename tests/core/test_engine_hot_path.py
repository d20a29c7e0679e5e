"""What the engine's fast path promises: one read per document, validation only of what is sent."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ccf_core import (
    BatchLimits,
    Connector,
    Document,
    DocumentFile,
    DocumentMetadata,
    RunStatus,
    SyncContext,
    SyncEngine,
    SyncReport,
)
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.state import SqliteStateStore

Run = Callable[..., SyncReport]


class Files(Connector):
    """One document per file of a folder; ``between`` runs after each document is handed over."""

    name = "files"

    def __init__(self, paths: list[Path], between: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.between = between

    def documents(self, context: SyncContext) -> Iterator[Document]:
        for position, path in enumerate(self.paths):
            yield Document(id=path.name, file=DocumentFile(path), metadata=DocumentMetadata(title=path.stem))
            if self.between is not None:
                self.between(position)


def test_the_destination_stores_the_bytes_that_were_checksummed(tmp_path: Path) -> None:
    """A file rewritten after the engine read it: the index holds what the recorded checksum covers."""
    paths = [tmp_path / f"file-{number:02d}.txt" for number in range(12)]
    for path in paths:
        path.write_text(f"first text of {path.stem}\n")

    def rewrite_the_one_just_read(position: int) -> None:
        paths[position].write_text("rewritten after it was read\n")

    with LocalIndex(tmp_path / "index.db") as index, SqliteStateStore(tmp_path / "state.db") as state:
        index.limits = BatchLimits(max_documents=2)
        report = SyncEngine(index, state).run(Files(paths, rewrite_the_one_just_read))

        assert report.status is RunStatus.SUCCEEDED
        assert report.added == len(paths)
        for path in paths:
            stored = index.get(path.name)
            assert stored is not None
            assert stored.text.strip() == f"first text of {path.stem}"


def test_unchanged_documents_are_not_validated_again(
    run_sync: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [tmp_path / f"file-{number}.txt" for number in range(5)]
    for path in paths:
        path.write_text(f"text of {path.stem}\n")
    run_sync(Files(paths))
    checked: list[str] = []
    real = __import__("ccf_core.changes", fromlist=["document_problems"]).document_problems

    def counting(document: Document, *args: object) -> list[str]:
        checked.append(document.id)
        return real(document, *args)

    monkeypatch.setattr("ccf_core.changes.document_problems", counting)
    # Touch every file (a new version) and change one: only the changed one is checked and sent.
    for path in paths:
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    paths[2].write_text("changed\n")

    report = run_sync(Files(paths))

    assert (report.unchanged, report.updated) == (4, 1)
    assert checked == [paths[2].name]


def test_text_that_is_not_utf8_in_an_attribute_fails_that_document_only(
    run_sync: Run, make_connector
) -> None:
    bad = Document(
        id="bad",
        content="x",
        metadata=DocumentMetadata(title="Bad", attributes={"folder": "caf\udce9"}),
    )
    good = Document(id="good", content="y", metadata=DocumentMetadata(title="Good"))

    report = run_sync(make_connector([bad, good]))

    assert report.added == 1
    assert [failure.document_id for failure in report.failures] == ["bad"]
    assert "not valid UTF-8" in report.failures[0].message


def test_a_refused_document_whose_deletion_was_cut_short_keeps_a_pending_mark(
    run_sync: Run, make_connector, make_doc, destination, state
) -> None:
    """The destination may still hold it: the state must not forget it, or nothing ever deletes it."""
    from ccf_core.checksum import PENDING_DELETE, PENDING_UPDATE

    state.record("listing", [("a", PENDING_DELETE)])
    destination.reject("a", "too_large", "refused by test")

    report = run_sync(make_connector([make_doc("a")]))

    assert report.failed == 1
    assert state.load_checksums("listing") == {"a": PENDING_UPDATE}


def _tracked(value: object) -> bool:
    """Whether the garbage collector's generations hold ``value`` (a frozen object is in none)."""
    return any(candidate is value for candidate in gc.get_objects())


class _Watching(Connector):
    """Notes whether the collector tracked ``marker`` while the run asked for the documents."""

    name = "watching"

    def __init__(self, marker: list[str]) -> None:
        super().__init__()
        self.marker = marker
        self.tracked_during: bool | None = None

    def documents(self, context: SyncContext) -> Iterator[Document]:
        self.tracked_during = _tracked(self.marker)
        yield Document(id="one", content="text", metadata=DocumentMetadata(title="One"))


def test_objects_made_before_a_run_are_kept_out_of_the_collector_during_it(tmp_path: Path) -> None:
    """Full collections in a run do not walk the process's older objects; afterwards they do again."""
    marker = ["made before the run"]
    connector = _Watching(marker)

    with LocalIndex(tmp_path / "index.db") as index, SqliteStateStore(tmp_path / "state.db") as state:
        report = SyncEngine(index, state).run(connector)

    assert report.status is RunStatus.SUCCEEDED
    assert connector.tracked_during is False
    assert _tracked(marker)
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_is_left_as_it_is(tmp_path: Path) -> None:
    gc.freeze()
    try:
        marker = ["made after the process froze its objects"]
        connector = _Watching(marker)
        with LocalIndex(tmp_path / "index.db") as index, SqliteStateStore(tmp_path / "state.db") as state:
            SyncEngine(index, state).run(connector)

        assert connector.tracked_during is True
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
