"""The sync engine's change detection, batching, dry run and report."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from ccf_core import (
    BatchLimits,
    Connector,
    Document,
    RunStatus,
    SyncContext,
    SyncEngine,
    SyncReport,
)
from ccf_core.checksum import document_checksum
from ccf_core.state import MemoryStateStore, SqliteStateStore

# Every test runs with the working set in memory and on disk.
pytestmark = pytest.mark.usefixtures("working_set_layout")

Run = Callable[..., SyncReport]


def test_first_run_adds_every_document(run_sync: Run, make_connector, make_docs, destination, state) -> None:
    docs = make_docs(5)

    report = run_sync(make_connector(docs))

    assert report.status is RunStatus.SUCCEEDED
    assert (report.scanned, report.added, report.updated, report.unchanged) == (5, 5, 0, 0)
    assert sorted(destination.documents) == [doc.id for doc in docs]
    assert all(prepared.is_new for prepared in destination.put_batches[0])
    assert state.load_checksums("listing") == {doc.id: document_checksum(doc)[0] for doc in docs}


def test_second_run_without_changes_makes_no_destination_calls(
    run_sync: Run, make_connector, make_docs, destination
) -> None:
    docs = make_docs(5)
    run_sync(make_connector(docs))
    destination.forget_calls()

    report = run_sync(make_connector(docs))

    assert destination.document_calls == 0
    assert (report.unchanged, report.added, report.updated, report.deleted) == (5, 0, 0, 0)
    assert report.status is RunStatus.SUCCEEDED


def test_only_timestamps_changed_is_unchanged(run_sync: Run, make_connector, make_doc, destination) -> None:
    run_sync(make_connector([make_doc("a", last_updated_at=datetime(2024, 1, 1, tzinfo=UTC))]))
    destination.forget_calls()

    report = run_sync(make_connector([make_doc("a", last_updated_at=datetime(2025, 1, 1, tzinfo=UTC))]))

    assert report.unchanged == 1
    assert destination.document_calls == 0


def test_changed_document_is_sent_alone_as_an_update(
    run_sync: Run, make_connector, make_docs, make_doc, destination
) -> None:
    docs = make_docs(4)
    run_sync(make_connector(docs))
    destination.forget_calls()
    docs[2] = make_doc(docs[2].id, "new text")

    report = run_sync(make_connector(docs))

    assert destination.sent_ids == [docs[2].id]
    assert destination.put_batches[0][0].is_new is False
    assert (report.updated, report.added, report.unchanged) == (1, 0, 3)
    assert destination.documents[docs[2].id].read_bytes() == b"new text"


def test_update_is_recorded_with_the_new_checksum(run_sync: Run, make_connector, make_doc, state) -> None:
    run_sync(make_connector([make_doc("a", "v1")]))
    changed = make_doc("a", "v2")

    run_sync(make_connector([changed]))

    assert state.load_checksums("listing") == {"a": document_checksum(changed)[0]}


def test_state_is_kept_per_connector(run_sync: Run, make_connector, make_docs, destination) -> None:
    docs = make_docs(2)
    run_sync(make_connector(docs))
    other = make_connector(docs)
    other.name = "other"

    report = run_sync(other)

    assert report.added == 2


# -- batching ----------------------------------------------------------------------------------


def test_batches_respect_max_documents(run_sync: Run, make_connector, make_docs, make_destination) -> None:
    destination = make_destination(BatchLimits(max_documents=3))

    run_sync(make_connector(make_docs(7)), destination=destination)

    assert [len(batch) for batch in destination.put_batches] == [3, 3, 1]


def test_batches_respect_max_bytes(run_sync: Run, make_connector, make_doc, make_destination) -> None:
    destination = make_destination(BatchLimits(max_documents=10, max_bytes=100))
    docs = [make_doc(f"d{number}", "x" * 40) for number in range(5)]

    run_sync(make_connector(docs), destination=destination)

    assert [len(batch) for batch in destination.put_batches] == [2, 2, 1]
    assert all(sum(prepared.size for prepared in batch) <= 100 for batch in destination.put_batches)


def test_document_bigger_than_max_bytes_goes_alone(
    run_sync: Run, make_connector, make_doc, make_destination
) -> None:
    destination = make_destination(BatchLimits(max_documents=10, max_bytes=100))
    docs = [make_doc("small-1", "x" * 10), make_doc("huge", "x" * 500), make_doc("small-2", "x" * 10)]

    report = run_sync(make_connector(docs), destination=destination)

    assert [[prepared.id for prepared in batch] for batch in destination.put_batches] == [
        ["small-1"],
        ["huge"],
        ["small-2"],
    ]
    assert report.added == 3


def test_several_batches_in_flight_give_the_same_result_as_one(
    make_connector, make_docs, make_destination, tmp_path
) -> None:
    docs = make_docs(57)
    reports: list[dict[str, object]] = []
    recorded: list[dict[str, str]] = []
    for in_flight in (1, 4):
        destination = make_destination(BatchLimits(max_documents=3, max_in_flight=in_flight))
        with SqliteStateStore(tmp_path / f"state-{in_flight}.db") as state:
            report = SyncEngine(destination, state).run(make_connector(docs))
            recorded.append(state.load_checksums("listing"))
        assert sorted(destination.documents) == [doc.id for doc in docs]
        reports.append({key: value for key, value in report.as_dict().items() if key != "duration_seconds"})
        reports[-1].pop("documents_per_second")

    assert reports[0] == reports[1]
    assert reports[1]["added"] == 57
    assert recorded[0] == recorded[1]
    assert len(recorded[1]) == 57


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_computes_the_plan(run_sync: Run, make_connector, make_docs, make_doc) -> None:
    docs = make_docs(4)
    run_sync(make_connector(docs))
    planned = [docs[0], make_doc(docs[1].id, "changed"), docs[2], make_doc("brand-new")]

    report = run_sync(make_connector(planned), dry_run=True)

    assert report.plan is not None
    assert report.plan.as_dict() == {
        "add": ["brand-new"],
        "update": [docs[1].id],
        "delete": [docs[3].id],
        "counts": {"add": 1, "update": 1, "unchanged": 2, "delete": 1},
    }
    assert (report.added, report.updated, report.unchanged, report.deleted) == (1, 1, 2, 1)
    assert report.dry_run is True


def test_dry_run_writes_nothing(
    run_sync: Run, make_connector, make_docs, make_doc, destination, state
) -> None:
    docs = make_docs(4)
    run_sync(make_connector(docs))
    before = state.load_checksums("listing")
    destination.forget_calls()
    runs_before = len(destination.runs)

    run_sync(
        make_connector([make_doc(docs[0].id, "changed"), make_doc("new")], checkpoint={"c": 1}), dry_run=True
    )

    assert destination.document_calls == 0
    assert len(destination.runs) == runs_before
    assert state.load_checksums("listing") == before
    assert state.get_checkpoint("listing") is None


# -- report ------------------------------------------------------------------------------------


def test_report_json_has_typed_counters_and_failures(make_connector, make_doc, destination) -> None:
    destination.reject("bad", "too_large", "document is too large")
    docs = [make_doc(f"ok-{number}") for number in range(19)] + [make_doc("bad")]

    report = SyncEngine(destination, MemoryStateStore()).run(make_connector(docs))
    data = json.loads(report.to_json())

    for key in ("scanned", "added", "updated", "unchanged", "deleted", "failed", "skipped", "bytes"):
        assert type(data[key]) is int, key
    assert type(data["duration_seconds"]) is float
    assert (data["scanned"], data["added"], data["failed"]) == (20, 19, 1)
    assert data["bytes"] == sum(doc.size() for doc in docs[:19])
    assert data["status"] == "completed_with_failures"
    assert data["failures"] == [
        {"document_id": "bad", "reason": "too_large", "message": "document is too large"}
    ]
    assert data["failures_by_reason"] == {"too_large": 1}


def test_report_text_summarises_the_run(make_connector, make_docs, destination) -> None:
    report = SyncEngine(destination, MemoryStateStore()).run(make_connector(make_docs(3)))

    text = report.to_text()

    assert "listing (full sync to recording): succeeded" in text
    assert "scanned 3, added 3" in text


def test_destination_is_opened_and_closed_with_the_status(make_connector, make_docs, destination) -> None:
    SyncEngine(destination, MemoryStateStore()).run(make_connector(make_docs(1)))

    assert [run.connector for run in destination.runs] == ["listing"]
    assert destination.runs[0].full is True
    assert destination.closed == [RunStatus.SUCCEEDED]


def test_documents_are_consumed_lazily(
    run_sync: Run, make_doc, make_destination, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first group of batches is sent before the connector produced its last document."""
    monkeypatch.setattr("ccf_core.uploader.GROUP_MAX_BATCHES", 2)
    destination = make_destination(BatchLimits(max_documents=2))
    sent_when_produced: list[int] = []

    class Watching(Connector):
        name = "watching"

        def documents(self, context: SyncContext) -> Iterator[Document]:
            for number in range(10):
                sent_when_produced.append(len(destination.sent_ids))
                yield make_doc(f"d{number}")

    run_sync(Watching(), destination=destination)

    # A group of two batches is sent when the next document comes: with d4, then with d8.
    assert sent_when_produced == [0, 0, 0, 0, 0, 4, 4, 4, 4, 8]
