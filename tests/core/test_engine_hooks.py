"""The engine's plugin hooks: ccf_transform_document, ccf_sync_started and ccf_sync_finished."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ccf_core import Document, RunStatus, SyncContext, SyncReport, hookimpl
from ccf_core.checksum import document_checksum
from ccf_core.plugins import registered_plugin

Run = Callable[..., SyncReport]


def retitled(document: Document, title: str) -> Document:
    return document.model_copy(update={"metadata": document.metadata.model_copy(update={"title": title})})


class Prefix:
    """Prefixes every title."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @hookimpl
    def ccf_transform_document(self, document: Document, context: SyncContext) -> Document | None:
        return retitled(document, self.prefix + document.metadata.title)


class Drop:
    """Drops the documents with the given ids."""

    def __init__(self, *ids: str) -> None:
        self.ids = set(ids)

    @hookimpl
    def ccf_transform_document(self, document: Document, context: SyncContext) -> Document | None:
        return None if document.id in self.ids else document


class Explode:
    """Raises for the documents with the given ids."""

    def __init__(self, *ids: str) -> None:
        self.ids = set(ids)

    @hookimpl
    def ccf_transform_document(self, document: Document, context: SyncContext) -> Document | None:
        if document.id in self.ids:
            raise ValueError(f"cannot enrich {document.id}")
        return document


class Observer:
    """Records the start and end of runs."""

    def __init__(self) -> None:
        self.started: list[SyncContext] = []
        self.finished: list[tuple[RunStatus, int]] = []

    @hookimpl
    def ccf_sync_started(self, context: SyncContext) -> None:
        self.started.append(context)

    @hookimpl
    def ccf_sync_finished(self, context: SyncContext, report: SyncReport) -> None:
        self.finished.append((report.status, report.scanned))


class StartRaises:
    @hookimpl
    def ccf_sync_started(self, context: SyncContext) -> None:
        raise RuntimeError("metrics backend down")


class FinishRaises:
    @hookimpl
    def ccf_sync_finished(self, context: SyncContext, report: SyncReport) -> None:
        raise RuntimeError("metrics backend down")


class BrokenObserver(StartRaises, FinishRaises):
    """Raises at the start and at the end of every run."""


# -- ccf_transform_document --------------------------------------------------------------------


def test_transform_changes_what_the_destination_receives(
    run_sync: Run, make_connector, make_doc, destination, state
) -> None:
    with registered_plugin(Prefix("[wiki] ")):
        run_sync(make_connector([make_doc("a", title="Home")]))

    sent = destination.documents["a"]
    assert sent.metadata.title == "[wiki] Home"
    assert state.load_checksums("listing") == {"a": document_checksum(sent)[0]}


def test_changing_the_transform_makes_the_next_run_an_update(
    run_sync: Run, make_connector, make_doc, destination
) -> None:
    docs = [make_doc("a", title="Home"), make_doc("b", title="About")]
    with registered_plugin(Prefix("v1: ")):
        run_sync(make_connector(docs))
    destination.forget_calls()

    with registered_plugin(Prefix("v2: ")):
        report = run_sync(make_connector(docs))

    assert (report.updated, report.unchanged) == (2, 0)
    assert destination.documents["a"].metadata.title == "v2: Home"


def test_same_transform_leaves_documents_unchanged(
    run_sync: Run, make_connector, make_doc, destination
) -> None:
    docs = [make_doc("a", title="Home")]
    with registered_plugin(Prefix("v1: ")):
        run_sync(make_connector(docs))
        destination.forget_calls()
        report = run_sync(make_connector(docs))

    assert report.unchanged == 1
    assert destination.document_calls == 0


def test_transform_returning_none_skips_the_document(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(3)

    with registered_plugin(Drop(docs[1].id)):
        report = run_sync(make_connector(docs))

    assert report.skipped == 1
    assert (report.added, report.failed) == (2, 0)
    assert docs[1].id not in destination.sent_ids
    assert docs[1].id not in state.load_checksums("listing")


def test_transforms_are_chained(run_sync: Run, make_connector, make_doc, destination) -> None:
    """Each transform gets the previous one's result, in pluggy's order (last registered first)."""
    with (
        registered_plugin(Prefix("inner: "), name="first"),
        registered_plugin(Prefix("outer: "), name="second"),
    ):
        run_sync(make_connector([make_doc("a", title="T")]))

    assert destination.documents["a"].metadata.title == "inner: outer: T"


def test_transform_error_fails_only_that_document(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    docs = make_docs(20)

    with registered_plugin(Explode(docs[4].id)):
        report = run_sync(make_connector(docs))

    assert [(f.document_id, f.reason) for f in report.failures] == [(docs[4].id, "transform_error")]
    assert "cannot enrich" in report.failures[0].message
    assert report.added == 19
    assert report.status is RunStatus.COMPLETED_WITH_FAILURES


def test_transform_error_is_not_also_counted_as_skipped(run_sync: Run, make_connector, make_docs) -> None:
    """A document is failed or skipped, not both: scanned = added + updated + unchanged + failed + skipped."""
    docs = make_docs(20)

    with registered_plugin(Explode(docs[4].id)):
        report = run_sync(make_connector(docs))

    assert (report.failed, report.skipped) == (1, 0)


def test_transform_error_does_not_delete_the_synced_document(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    """A transform that fails (perhaps for a moment) must not remove an indexed document in a full run."""
    docs = make_docs(20)
    run_sync(make_connector(docs))

    with registered_plugin(Explode(docs[4].id)):
        run_sync(make_connector(docs))

    assert destination.deleted_ids == []
    assert docs[4].id in state.load_checksums("listing")


def test_transform_may_take_only_the_document(run_sync: Run, make_connector, make_doc, destination) -> None:
    """pluggy lets a hook implementation accept a subset of the spec's arguments."""

    class Upper:
        @hookimpl
        def ccf_transform_document(self, document: Document) -> Document:
            return retitled(document, document.metadata.title.upper())

    with registered_plugin(Upper()):
        report = run_sync(make_connector([make_doc("a", title="quiet")]))

    assert report.failures == []
    assert destination.documents["a"].metadata.title == "QUIET"


# -- ccf_sync_started / ccf_sync_finished ------------------------------------------------------


def test_sync_started_and_finished_are_called(run_sync: Run, make_connector, make_docs) -> None:
    observer = Observer()

    with registered_plugin(observer):
        run_sync(make_connector(make_docs(3)))

    assert [context.connector for context in observer.started] == ["listing"]
    assert observer.finished == [(RunStatus.SUCCEEDED, 3)]


def test_sync_finished_gets_the_final_report_of_a_failed_run(
    run_sync: Run, make_connector, make_docs
) -> None:
    observer = Observer()

    with registered_plugin(observer):
        run_sync(make_connector(make_docs(5), fail_after=2))

    assert observer.finished == [(RunStatus.FAILED, 2)]


@pytest.mark.parametrize("observer", [StartRaises, FinishRaises])
def test_raising_observer_does_not_fail_the_run(
    run_sync: Run, make_connector, make_docs, destination, observer
) -> None:
    with registered_plugin(observer()):
        report = run_sync(make_connector(make_docs(3)))

    assert report.status is RunStatus.SUCCEEDED
    assert report.error is None
    assert len(destination.documents) == 3


def test_raising_observer_does_not_silence_the_others(run_sync: Run, make_connector, make_docs) -> None:
    observer = Observer()

    with registered_plugin(observer, name="observer"), registered_plugin(BrokenObserver(), name="broken"):
        run_sync(make_connector(make_docs(3)))

    assert len(observer.started) == 1
    assert observer.finished == [(RunStatus.SUCCEEDED, 3)]
