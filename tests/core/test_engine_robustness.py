"""The engine under failure: state per destination, duplicates, and errors while finishing a run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ccf_core import Document, DocumentMetadata, RunInfo, RunStatus, SyncReport, hookimpl
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.engine import split_scope, state_scope
from ccf_core.plugins import registered_plugin
from ccf_core.state import SqliteStateStore

Run = Callable[..., SyncReport]


def test_state_is_kept_per_destination_so_a_new_index_receives_everything(
    run_sync: Run, make_connector, make_docs, state: SqliteStateStore, tmp_path: Path
) -> None:
    docs = make_docs(3)
    with LocalIndex(tmp_path / "one.db") as first, LocalIndex(tmp_path / "two.db") as second:
        run_sync(make_connector(docs), destination=first)
        report = run_sync(make_connector(docs), destination=second)
        assert (report.added, report.unchanged) == (3, 0)
        assert second.count() == 3


def test_state_scope_names_the_connector_and_the_destination(tmp_path: Path) -> None:
    with LocalIndex(tmp_path / "index.db") as index:
        scope = state_scope("hello", index)
    assert split_scope(scope) == ("hello", f"local:{(tmp_path / 'index.db').resolve()}")


def test_destination_without_identity_keeps_the_bare_connector_name(destination) -> None:
    assert state_scope("hello", destination) == "hello"
    assert split_scope("hello") == ("hello", None)


def test_an_id_produced_twice_is_sent_once_and_reported(
    run_sync: Run, make_connector, make_doc, destination
) -> None:
    report = run_sync(make_connector([make_doc("same"), make_doc("other"), make_doc("same")]))

    assert destination.sent_ids == ["same", "other"]
    assert report.failures_by_reason["duplicate_id"] == 1
    assert report.added == 2


def test_an_id_produced_twice_is_not_deleted_in_full_mode(
    run_sync: Run, make_connector, make_doc, destination
):
    run_sync(make_connector([make_doc("same")]))
    run_sync(make_connector([make_doc("same"), make_doc("same")]))
    assert destination.deleted_ids == []


def test_a_checkpoint_that_cannot_be_saved_fails_the_run(
    run_sync: Run, make_connector, make_docs, state: SqliteStateStore, monkeypatch
) -> None:
    def disk_full(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(state, "save_checkpoint", disk_full)
    report = run_sync(make_connector(make_docs(2), checkpoint={"cursor": 2}))

    assert report.status is RunStatus.FAILED
    assert "disk full" in (report.error or "")


def test_state_failure_while_recording_the_last_batches_fails_the_run_and_closes_the_destination(
    run_sync: Run, make_connector, make_docs, destination, state: SqliteStateStore, monkeypatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(state, "record", broken)
    report = run_sync(make_connector(make_docs(3)))

    assert report.status is RunStatus.FAILED
    assert destination.closed == [RunStatus.FAILED]


def test_transform_that_sets_text_content_with_model_copy_is_validated_again(
    run_sync: Run, make_connector, make_doc, destination
) -> None:
    class Redact:
        @hookimpl
        def ccf_transform_document(self, document: Document) -> Document:
            return document.model_copy(update={"content": "[redacted]"})

    with registered_plugin(Redact()):
        report = run_sync(make_connector([make_doc("secret")]))

    assert report.failed == 0
    assert destination.documents["secret"].content == b"[redacted]"


def test_transform_returning_something_else_fails_only_that_document(
    run_sync: Run, make_connector, make_doc, destination
) -> None:
    class Broken:
        @hookimpl
        def ccf_transform_document(self, document: Document) -> object:
            return "not a document" if document.id == "bad" else document

    with registered_plugin(Broken()):
        report = run_sync(make_connector([make_doc("bad"), make_doc("good")]))

    assert report.failures_by_reason == {"transform_error": 1}
    assert destination.sent_ids == ["good"]


def test_attribute_of_a_wrong_type_rejects_one_document_and_the_run_goes_on(
    run_sync: Run, make_connector, make_doc, destination
) -> None:
    bad = Document(id="bad", content="x", metadata=DocumentMetadata(title="t", attributes={"score": 1.5}))
    report = run_sync(make_connector([bad, make_doc("good")]))

    assert report.failures_by_reason == {"invalid_document": 1}
    assert "attribute 'score' type: float" in report.failures[0].message
    assert destination.sent_ids == ["good"]


def test_destination_is_told_the_cancel_event_of_the_run(
    run_sync: Run, make_connector, make_docs, destination
):
    run_sync(make_connector(make_docs(1)))
    run: RunInfo = destination.runs[0]
    assert run.cancel_event is not None
    assert not run.cancel_event.is_set()


def test_a_checkpoint_that_is_not_json_is_refused_when_set(make_connector) -> None:
    from datetime import datetime

    from ccf_core import SyncContext, SyncMode

    context = SyncContext(connector="c", config=make_connector().config, mode=SyncMode.INCREMENTAL)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        context.set_checkpoint({"since": datetime(2026, 1, 1)})
    assert context.next_checkpoint is None
