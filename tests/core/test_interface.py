"""The seed's builder-kit style: a QBusinessCustomConnectorInterface subclass and ``.sync()``.

``MyCustomConnector`` is the example of the seed developer guide ("Role of the builder"), with the
imports changed to ``ccf_core``, the principals written as the Q Business API defines them, and the
file path pointing at a file the test writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ccf_core import (
    Document,
    DocumentMetadata,
    QBusinessCustomConnectorInterface,
    RunStatus,
    SyncAborted,
)
from ccf_core.state import MemoryStateStore
from tests import seed_example

MyCustomConnector = seed_example.MyCustomConnector


class AddOnlyConnector(QBusinessCustomConnectorInterface):
    """A builder-kit connector that does not track deletions."""

    def get_documents_to_add(self) -> Iterator[Document]:
        yield Document(id="only", content="only text", metadata=DocumentMetadata(title="Only"))


@pytest.fixture(autouse=True)
def fake_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "fake" / "file.txt"
    path.parent.mkdir()
    path.write_text("The content of the fake document.")
    monkeypatch.setattr(seed_example, "FAKE_FILE_PATH", str(path))
    return path


def seed_connector(destination, state=None) -> MyCustomConnector:  # type: ignore[no-untyped-def]
    return MyCustomConnector(
        qbusiness_client=None,
        qbusiness_app_id="app-id",
        qbusiness_index_id="index-id",
        qbusiness_data_source_id="data-source-id",
        destination=destination,
        state=state if state is not None else MemoryStateStore(),
    )


def test_seed_example_uploads_its_document_with_attributes(destination) -> None:
    seed_connector(destination).sync()

    sent = destination.documents["fake-document-id-1"]
    assert sent.metadata.title == "Fake Document Title"
    assert sent.metadata.source_uri == "https://example.com/fake-document"
    assert sent.metadata.attributes == {"author": "Custom Connector Framework"}
    assert sent.read_bytes() == b"The content of the fake document."


def test_seed_example_uploads_its_acl(destination) -> None:
    seed_connector(destination).sync()

    [control] = destination.documents["fake-document-id-1"].metadata.access_control_list
    assert control.to_api() == {
        "memberRelation": "OR",
        "principals": [
            {"user": {"id": "jon.doe@example.com", "access": "ALLOW", "membershipType": "INDEX"}},
            {"group": {"name": "example-group", "access": "ALLOW", "membershipType": "DATASOURCE"}},
        ],
    }


def test_seed_example_deletes_its_document_to_delete(destination) -> None:
    report = seed_connector(destination).sync()

    assert destination.deleted_ids == ["fake-document-id-2"]
    assert (report.added, report.deleted) == (1, 1)
    assert report.status is RunStatus.SUCCEEDED


def test_sync_returns_the_report_and_keeps_it(destination) -> None:
    connector = seed_connector(destination)

    report = connector.sync()

    assert connector.last_report is report
    assert report.connector == "MyCustomConnector"


def test_second_sync_with_the_same_state_uploads_nothing(destination) -> None:
    state = MemoryStateStore()
    seed_connector(destination, state).sync()
    destination.forget_calls()

    report = seed_connector(destination, state).sync()

    assert destination.sent_ids == []
    assert report.unchanged == 1


def test_get_documents_to_delete_is_optional(destination) -> None:
    report = AddOnlyConnector(destination=destination, state=MemoryStateStore()).sync()

    assert list(destination.documents) == ["only"]
    assert destination.deleted_ids == []
    assert report.status is RunStatus.SUCCEEDED


def test_failed_sync_raises_with_the_report_kept(destination) -> None:
    class Broken(QBusinessCustomConnectorInterface):
        def get_documents_to_add(self) -> Iterator[Document]:
            raise ConnectionError("source unreachable")

    connector = Broken(destination=destination, state=MemoryStateStore())

    with pytest.raises(SyncAborted, match="source unreachable"):
        connector.sync()

    assert connector.last_report is not None
    assert connector.last_report.status is RunStatus.FAILED


def test_second_sync_of_the_same_object_without_a_state_store_uploads_nothing(destination) -> None:
    connector = AddOnlyConnector(destination=destination)
    connector.sync()
    destination.forget_calls()

    report = connector.sync()

    assert destination.sent_ids == []
    assert report.unchanged == 1
