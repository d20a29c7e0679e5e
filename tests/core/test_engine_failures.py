"""Honest accounting: rejected, unanswered, invalid and unreadable documents, error budget, outages."""

from __future__ import annotations

from collections.abc import Callable

from ccf_core import BatchLimits, Document, DocumentFile, DocumentMetadata, RunStatus, SyncMode, SyncReport
from ccf_core.checksum import PENDING_UPDATE

Run = Callable[..., SyncReport]


def failure_ids(report: SyncReport, reason: str) -> list[str]:
    return [failure.document_id for failure in report.failures if failure.reason == reason]


# -- per-document failures from the destination ------------------------------------------------


def test_rejected_documents_are_counted_by_reason(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    docs = make_docs(20)
    destination.reject(docs[3].id, "throttled", "slow down")

    report = run_sync(make_connector(docs))

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    assert report.failed == 1
    assert report.added == 19
    assert report.failures_by_reason == {"throttled": 1}
    assert [(f.document_id, f.reason, f.message) for f in report.failures] == [
        (docs[3].id, "throttled", "slow down")
    ]


def test_rejected_documents_are_not_recorded(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(20)
    destination.reject(docs[3].id)

    run_sync(make_connector(docs))

    assert docs[3].id not in state.load_checksums("listing")
    assert len(state.load_checksums("listing")) == 19


def test_rejected_documents_are_retried_on_the_next_run(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(20)
    destination.reject(docs[3].id)
    run_sync(make_connector(docs))
    destination.behave()
    destination.forget_calls()

    report = run_sync(make_connector(docs))

    assert destination.sent_ids == [docs[3].id]
    assert (report.added, report.unchanged, report.failed) == (1, 19, 0)
    assert report.status is RunStatus.SUCCEEDED


def test_unanswered_documents_count_as_no_response(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(20)
    destination.ignore(docs[0].id)

    report = run_sync(make_connector(docs))

    assert failure_ids(report, "no_response") == [docs[0].id]
    assert docs[0].id not in state.load_checksums("listing")


# -- error budget ------------------------------------------------------------------------------


def test_too_many_failures_fail_the_run(run_sync: Run, make_connector, make_docs, destination, state) -> None:
    docs = make_docs(10)
    run_sync(make_connector(docs, checkpoint={"c": 1}))
    for doc in docs[:2]:
        destination.reject(doc.id)
    changed = [doc.model_copy(update={"content": b"changed"}) for doc in docs[:9]]

    report = run_sync(make_connector(changed, checkpoint={"c": 2}))

    assert report.status is RunStatus.FAILED
    assert "error budget" in (report.error or "")
    assert destination.deleted_ids == []
    assert state.get_checkpoint("listing") == {"c": 1}
    assert docs[9].id in state.load_checksums("listing")


def test_failures_within_budget_complete_with_failures(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(10)
    destination.reject(docs[0].id)

    report = run_sync(make_connector(docs, checkpoint={"c": 1}))

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    assert destination.closed == [RunStatus.COMPLETED_WITH_FAILURES]
    assert state.get_checkpoint("listing") == {"c": 1}


def test_error_budget_is_configurable(run_sync: Run, make_connector, make_docs, destination) -> None:
    docs = make_docs(10)
    for doc in docs[:3]:
        destination.reject(doc.id)

    report = run_sync(make_connector(docs), error_budget=0.5)

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES


def test_incremental_checkpoint_waits_for_retryable_failures(
    run_sync: Run, make_connector, make_docs, destination, state
) -> None:
    docs = make_docs(20)
    destination.reject(docs[0].id, "throttled")

    report = run_sync(make_connector(docs, mode=SyncMode.INCREMENTAL, checkpoint={"c": 1}))

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    assert state.get_checkpoint("listing") is None


def test_incremental_checkpoint_advances_past_invalid_documents(
    run_sync: Run, make_connector, make_docs, make_doc, state
) -> None:
    docs = [*make_docs(19), make_doc("untitled", title="")]

    report = run_sync(make_connector(docs, mode=SyncMode.INCREMENTAL, checkpoint={"c": 1}))

    assert report.failures_by_reason == {"invalid_document": 1}
    assert state.get_checkpoint("listing") == {"c": 1}


# -- documents the engine rejects itself -------------------------------------------------------


def test_invalid_document_is_rejected_alone(
    run_sync: Run, make_connector, make_docs, make_doc, destination
) -> None:
    docs = [*make_docs(19), make_doc("untitled", title="")]

    report = run_sync(make_connector(docs))

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    assert failure_ids(report, "invalid_document") == ["untitled"]
    message = report.failures[0].message
    assert "'untitled'" in message
    assert "title length" in message
    assert "untitled" not in destination.sent_ids
    assert report.added == 19


def test_previously_synced_document_that_became_invalid_is_not_deleted(
    run_sync: Run, make_connector, make_docs, make_doc, destination
) -> None:
    docs = make_docs(20)
    run_sync(make_connector(docs))

    run_sync(make_connector([*docs[1:], make_doc(docs[0].id, title="")]))

    assert destination.deleted_ids == []


def test_unreadable_file_is_content_unreadable(
    run_sync: Run, make_connector, make_docs, destination, state, tmp_path
) -> None:
    missing = Document(
        id="missing", file=DocumentFile(tmp_path / "gone.txt"), metadata=DocumentMetadata(title="Gone")
    )

    report = run_sync(make_connector([*make_docs(19), missing]))

    assert failure_ids(report, "content_unreadable") == ["missing"]
    assert "'missing'" in report.failures[0].message
    assert "missing" not in destination.sent_ids
    assert "missing" not in state.load_checksums("listing")
    assert report.added == 19


# -- destination outages -----------------------------------------------------------------------


def test_batch_that_raises_fails_its_documents_and_the_run_goes_on(
    run_sync: Run, make_connector, make_docs, make_destination, state
) -> None:
    destination = make_destination(BatchLimits(max_documents=5))
    destination.raise_on_puts(2)
    docs = make_docs(50)

    report = run_sync(make_connector(docs), destination=destination)

    assert failure_ids(report, "destination_error") == [doc.id for doc in docs[5:10]]
    assert report.added == 45
    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    stored = state.load_checksums("listing")
    synced = sorted(doc_id for doc_id, value in stored.items() if value != PENDING_UPDATE)
    assert synced == sorted(doc.id for doc in docs if doc not in docs[5:10])
    # The batch that raised may or may not have been stored: it stays marked, and is sent again.
    assert {stored[doc.id] for doc in docs[5:10]} == {PENDING_UPDATE}


def test_documents_of_a_failed_batch_are_retried_next_run(
    run_sync: Run, make_connector, make_docs, make_destination
) -> None:
    destination = make_destination(BatchLimits(max_documents=5))
    destination.raise_on_puts(2)
    docs = make_docs(50)
    run_sync(make_connector(docs), destination=destination)
    destination.forget_calls()

    run_sync(make_connector(docs), destination=destination)

    assert destination.sent_ids == [doc.id for doc in docs[5:10]]


def test_three_failing_batches_in_a_row_abort_the_run(
    run_sync: Run, make_connector, make_docs, make_destination, state
) -> None:
    destination = make_destination(BatchLimits(max_documents=2))
    destination.raise_on_puts(1, 2, 3)
    docs = make_docs(20)

    report = run_sync(make_connector(docs, checkpoint={"c": 1}), destination=destination)

    assert report.status is RunStatus.FAILED
    assert len(destination.put_batches) == 3
    assert set(state.load_checksums("listing").values()) == {PENDING_UPDATE}
    assert state.get_checkpoint("listing") is None
    assert destination.closed == [RunStatus.FAILED]


def test_aborted_run_names_the_destination_unavailable_reason(
    run_sync: Run, make_connector, make_docs, make_destination
) -> None:
    destination = make_destination(BatchLimits(max_documents=2))
    destination.raise_on_puts(1, 2, 3)

    report = run_sync(make_connector(make_docs(20)), destination=destination)

    assert "destination_unavailable" in (report.error or "")
    assert "DestinationDown" in (report.error or "")


def test_every_scanned_document_is_counted_exactly_once(
    run_sync: Run, make_connector, make_doc, destination, tmp_path
) -> None:
    run_sync(make_connector([make_doc("same"), make_doc("changed", "v1")]))
    destination.reject("rejected")
    destination.ignore("ignored")
    unreadable = Document(
        id="gone", file=DocumentFile(tmp_path / "gone.txt"), metadata=DocumentMetadata(title="G")
    )
    docs = [
        make_doc("same"),
        make_doc("changed", "v2"),
        make_doc("new"),
        make_doc("invalid", title=""),
        make_doc("rejected"),
        make_doc("ignored"),
        unreadable,
    ]

    report = run_sync(make_connector(docs), error_budget=1.0)

    assert (report.unchanged, report.updated, report.added, report.failed, report.skipped) == (1, 1, 1, 4, 0)
    assert report.scanned == report.unchanged + report.updated + report.added + report.failed + report.skipped


# -- the state store fails ---------------------------------------------------------------------


def test_a_full_state_disk_leaves_every_document_in_exactly_one_counter(
    run_sync: Run, make_connector, make_docs, make_destination, tmp_path
) -> None:
    import sqlite3

    from ccf_core.state import SqliteStateStore

    class FillingUp(SqliteStateStore):
        """Accepts a few writes, then fails like a full disk."""

        writes = 0

        def record(self, connector, items, kind="document"):
            self.writes += 1
            if self.writes > 3:
                raise sqlite3.OperationalError("database or disk is full")
            super().record(connector, items, kind)

    destination = make_destination(BatchLimits(max_documents=10, max_in_flight=4))
    state = FillingUp(tmp_path / "full.db")
    docs = make_docs(500)

    report = run_sync(make_connector(docs), destination=destination, state=state)

    assert report.status is RunStatus.FAILED
    assert "state_unwritable" in (report.error or "")
    counted = report.added + report.updated + report.unchanged + report.failed + report.skipped
    assert counted == report.scanned
    assert report.failures_by_reason["state_unwritable"] > 0
    synced = {doc_id for doc_id, value in state.load_checksums("listing").items() if value != PENDING_UPDATE}
    assert len(synced) == report.added
    assert synced <= set(destination.documents)


def test_an_attribute_list_that_contains_itself_fails_that_document_only(
    run_sync: Run, make_connector, make_docs
) -> None:
    looped: list[object] = ["a"]
    looped.append(looped)
    odd = Document(
        id="looped", content="text", metadata=DocumentMetadata(title="t", attributes={"l": looped})
    )

    report = run_sync(make_connector([*make_docs(20), odd]))

    assert report.status is RunStatus.COMPLETED_WITH_FAILURES
    assert report.added == 20
    assert failure_ids(report, "invalid_document") == ["looped"]
