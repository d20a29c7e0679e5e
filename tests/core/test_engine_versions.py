"""Version hints, lazily loaded documents and protecting what a full run could not list."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from ccf_core import (
    Connector,
    Document,
    DocumentFile,
    DocumentMetadata,
    DocumentVersion,
    RunStatus,
    SyncContext,
    SyncReport,
)

# Every test runs with the working set in memory and on disk.
pytestmark = pytest.mark.usefixtures("working_set_layout")

Run = Callable[..., SyncReport]


class Items(Connector):
    """Yields what the test gives it; records what each run's context said."""

    name = "listing"

    def __init__(
        self, items: Iterable[Document | DocumentVersion], before: Callable[[SyncContext], None] | None = None
    ):
        super().__init__()
        self.items = list(items)
        self.before = before
        self.previous: dict[str, str | None] = {}

    def documents(self, context: SyncContext) -> Iterator[Document | DocumentVersion]:
        if self.before is not None:
            self.before(context)
        for item in self.items:
            self.previous[item.id] = context.previous_version(item.id)
            yield item


class CountingContent:
    """A loader that counts its calls."""

    def __init__(self, text: str, title: str = "t") -> None:
        self.text, self.title, self.calls = text, title, 0

    def __call__(self, doc_id: str, version: str | None = None) -> Document:
        self.calls += 1
        return Document(
            id=doc_id, content=self.text, metadata=DocumentMetadata(title=self.title), version=version
        )


def lazy(doc_id: str, version: str, loader: CountingContent) -> DocumentVersion:
    return DocumentVersion(id=doc_id, version=version, load=lambda: loader(doc_id))


def test_same_version_is_unchanged_without_loading(run_sync: Run, destination) -> None:
    loader = CountingContent("hello")
    run_sync(Items([lazy("a", "v1", loader)]))

    report = run_sync(Items([lazy("a", "v1", loader)]))

    assert loader.calls == 1
    assert report.unchanged == 1
    assert destination.sent_ids == ["a"]


def test_new_version_loads_and_uploads_changed_content(run_sync: Run, destination) -> None:
    run_sync(Items([lazy("a", "v1", CountingContent("hello"))]))
    changed = CountingContent("hello again")

    report = run_sync(Items([lazy("a", "v2", changed)]))

    assert changed.calls == 1
    assert report.updated == 1
    assert destination.sent_ids == ["a", "a"]


def test_new_version_with_same_content_is_unchanged_and_remembered(run_sync: Run, destination) -> None:
    run_sync(Items([lazy("a", "v1", CountingContent("same"))]))
    second = CountingContent("same")
    report = run_sync(Items([lazy("a", "v2", second)]))
    third = CountingContent("same")

    again = run_sync(Items([lazy("a", "v2", third)]))

    assert report.unchanged == 1 and second.calls == 1
    assert again.unchanged == 1 and third.calls == 0
    assert destination.sent_ids == ["a"]


def test_loader_returning_none_means_gone(run_sync: Run, destination) -> None:
    run_sync(Items([lazy("a", "v1", CountingContent("x")), lazy("b", "v1", CountingContent("y"))]))

    report = run_sync(
        Items([lazy("a", "v1", CountingContent("x")), DocumentVersion("b", "v2", lambda: None)])
    )

    assert report.deleted == 1
    assert destination.deleted_ids == ["b"]


def test_loader_that_raises_fails_the_document_and_keeps_it(run_sync: Run, destination, state) -> None:
    run_sync(Items([lazy("a", "v1", CountingContent("x"))]))

    def broken() -> Document:
        raise TimeoutError("read timed out")

    report = run_sync(Items([DocumentVersion("a", "v2", broken)]))

    assert report.failures_by_reason == {"load_failed": 1}
    assert "read timed out" in report.failures[0].message
    assert destination.deleted_ids == []
    assert "a" in state.load_checksums("listing")


def test_previous_version_is_given_to_the_connector(run_sync: Run) -> None:
    run_sync(Items([lazy("a", 'W/"etag-1"', CountingContent("x"))]))
    connector = Items([lazy("a", 'W/"etag-1"', CountingContent("x")), lazy("new", "v", CountingContent("y"))])

    run_sync(connector)

    assert connector.previous == {"a": 'W/"etag-1"', "new": None}


def test_long_versions_are_stored_hashed_and_still_compared(run_sync: Run, state) -> None:
    version = "v" * 1000
    run_sync(Items([lazy("a", version, CountingContent("x"))]))
    loader = CountingContent("x")
    connector = Items([lazy("a", version, loader)])

    report = run_sync(connector)

    assert report.unchanged == 1 and loader.calls == 0
    assert connector.previous == {"a": None}
    assert all(len(value) < 512 for value in state.load_checksums("listing").values())


def test_document_version_skips_reading_content_when_metadata_is_unchanged(
    run_sync: Run, destination, tmp_path: Path
) -> None:
    path = tmp_path / "a.txt"
    path.write_text("first")
    doc = Document(id="a", file=DocumentFile(path), metadata=DocumentMetadata(title="a"), version="1")
    run_sync(Items([doc]))
    path.write_text("changed on disk but the source says version 1")

    report = run_sync(Items([doc]))

    assert report.unchanged == 1
    assert destination.sent_ids == ["a"]


def test_changed_metadata_with_same_version_is_uploaded(run_sync: Run, destination) -> None:
    run_sync(Items([Document(id="a", content="x", metadata=DocumentMetadata(title="old"), version="1")]))

    report = run_sync(
        Items([Document(id="a", content="x", metadata=DocumentMetadata(title="new"), version="1")])
    )

    assert report.updated == 1
    assert destination.documents["a"].metadata.title == "new"


def test_files_use_size_and_mtime_and_open_nothing_when_unchanged(
    run_sync: Run, destination, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.txt"
    path.write_text("content")
    doc = Document(id="a", file=DocumentFile(path), metadata=DocumentMetadata(title="a"))
    run_sync(Items([doc]))
    opened: list[object] = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda *args, **kw: opened.append(args[0]) or real_open(*args, **kw))

    report = run_sync(Items([doc]))

    assert report.unchanged == 1
    assert [name for name in opened if str(name).endswith("a.txt")] == []


def test_a_touched_file_with_the_same_content_is_not_uploaded(
    run_sync: Run, destination, tmp_path: Path
) -> None:
    path = tmp_path / "a.txt"
    path.write_text("content")
    doc = Document(id="a", file=DocumentFile(path), metadata=DocumentMetadata(title="a"))
    run_sync(Items([doc]))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))

    report = run_sync(Items([doc]))

    assert report.unchanged == 1
    assert destination.sent_ids == ["a"]


def test_a_modified_file_is_uploaded(run_sync: Run, destination, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("content")
    doc = Document(id="a", file=DocumentFile(path), metadata=DocumentMetadata(title="a"))
    run_sync(Items([doc]))
    path.write_text("new content, longer")

    report = run_sync(Items([doc]))

    assert report.updated == 1


def test_checksums_from_earlier_releases_still_match(run_sync: Run, destination, state) -> None:
    from ccf_core.checksum import document_checksum

    doc = Document(id="a", content="x", metadata=DocumentMetadata(title="a"))
    state.record("listing", [("a", document_checksum(doc)[0])])

    report = run_sync(Items([doc]))

    assert report.unchanged == 1
    assert destination.sent_ids == []


# -- keeping what could not be listed ----------------------------------------------------------


def _doc(doc_id: str) -> Document:
    return Document(id=doc_id, content=doc_id, metadata=DocumentMetadata(title=doc_id))


def test_kept_ids_are_not_deleted_by_a_full_run(run_sync: Run, destination) -> None:
    run_sync(Items([_doc("a"), _doc("b"), _doc("c")]))

    report = run_sync(Items([_doc("a")], before=lambda context: context.keep("b")))

    assert destination.deleted_ids == ["c"]
    assert report.kept == 1
    assert "kept 1" in report.to_text()


def test_kept_prefix_protects_a_whole_scope(run_sync: Run, destination) -> None:
    run_sync(Items([_doc("p1/a"), _doc("p1/b"), _doc("p2/a"), _doc("p2/b")]), allow_mass_delete=True)

    report = run_sync(Items([_doc("p2/a")], before=lambda context: context.keep_prefix("p1/")))

    assert destination.deleted_ids == ["p2/b"]
    assert report.kept == 2
    assert report.status is RunStatus.SUCCEEDED


def test_keep_does_not_stop_explicit_deletions(run_sync: Run, destination) -> None:
    class Explicit(Items):
        def deleted_document_ids(self, context: SyncContext) -> Iterator[str]:
            yield "b"

    run_sync(Items([_doc("a"), _doc("b")]))

    run_sync(Explicit([_doc("a")], before=lambda context: context.keep_prefix("b")))

    assert destination.deleted_ids == ["b"]


def test_a_problem_the_connector_reports_is_listed_without_failing_the_run(
    run_sync: Run, destination
) -> None:
    from ccf_core import RunStatus

    def unreadable_project(context: SyncContext) -> None:
        context.keep_prefix("p1/")
        context.report_problem("acme/secret", "forbidden", "acme/secret: 403; its documents are kept")

    run_sync(Items([_doc("p1/a"), _doc("p2/a")]))

    report = run_sync(Items([_doc("p2/a")], before=unreadable_project))

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    assert (report.failed, report.kept, report.deleted) == (0, 1, 0)
    assert report.as_dict()["problems"] == [
        {
            "document_id": "acme/secret",
            "reason": "forbidden",
            "message": "acme/secret: 403; its documents are kept",
        }
    ]
    assert "could not list acme/secret (forbidden)" in report.to_text()
