"""The API state store holds a bounded number of pages, and lists the records once per run.

Against the local backend (SQLite storage, real HTTP) with 5,000 document records, two groups and
a note, and pages forced to 200 records: the records received from the API but not yet handed to
the caller never exceed one page, and a whole run of the engine lists every record once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ccf_core import Document, DocumentMetadata, SyncEngine
from ccf_core.api import CCFClient
from ccf_core.state.api import ApiStateStore
from ccf_core.testing import AcceptingDestination
from tests.support import NumberedDocuments

STORAGES = ("sqlite",)
RECORDS = 5_000
PAGE = 200


class ListingCounter:
    """Counts the API calls of a boto3 ``ccf`` client and the records its list pages carried."""

    def __init__(self, ccf: Any) -> None:
        self.ccf = ccf
        self.calls: Counter[str] = Counter()
        self.received = 0

    def count_call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def count_records(self, parsed: dict[str, Any], **_: Any) -> None:
        self.received += len(parsed.get("documents", []))

    def __enter__(self) -> ListingCounter:
        self.ccf.meta.events.register("before-call.*.*", self.count_call)
        self.ccf.meta.events.register("after-call.*.ListCustomConnectorDocuments", self.count_records)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.ccf.meta.events.unregister("before-call.*.*", self.count_call)
        self.ccf.meta.events.unregister("after-call.*.ListCustomConnectorDocuments", self.count_records)


@pytest.fixture
def filled(ccf: Any, connector_id: str) -> str:
    """A connector whose state holds RECORDS documents, two groups and a note."""
    store = ApiStateStore(CCFClient(ccf, connector_id))
    store.record("any", [(doc_id(number), checksum(number)) for number in range(RECORDS)])
    store.record("any", [("admins", "a" * 64), ("readers", "b" * 64)], kind="group")
    store.record("any", [("generation", "c" * 64)], kind="meta")
    return connector_id


def doc_id(number: int) -> str:
    return f"https://example.com/docs/{number:05d}"


def checksum(number: int) -> str:
    return f"{number:064x}"


def test_streaming_documents_holds_at_most_one_page(ccf: Any, filled: str) -> None:
    store = ApiStateStore(CCFClient(ccf, filled), page_size=PAGE)
    handed = 0
    most_held = 0
    with ListingCounter(ccf) as counter:
        for item_id, value in store.iter_checksums("any"):
            assert value == checksum(int(item_id.rsplit("/", 1)[1]))
            handed += 1
            most_held = max(most_held, counter.received - handed)

    assert handed == RECORDS
    assert most_held < PAGE + 3  # at most one page, besides the two groups and the note kept aside
    # 5,003 records in pages of 200: 26 calls, the last without a token (no empty extra call).
    assert counter.calls == {"ListCustomConnectorDocuments": 26}


def test_documents_listed_for_the_notes_are_kept_on_disk_and_not_listed_again(
    ccf: Any, filled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ccf_core.state.api.KEEP_DOCUMENTS", PAGE)
    store = ApiStateStore(CCFClient(ccf, filled), page_size=PAGE)
    with ListingCounter(ccf) as counter:
        assert store.load_checksums("any", kind="meta") == {"generation": "c" * 64}
        kept = store._documents
        assert kept is not None and kept.on_disk  # past KEEP_DOCUMENTS: in a temporary file
        assert store.load_checksums("any", kind="group") == {"admins": "a" * 64, "readers": "b" * 64}
        documents = dict(store.iter_checksums("any"))

    assert documents == {doc_id(number): checksum(number) for number in range(RECORDS)}
    assert counter.calls == {"ListCustomConnectorDocuments": 26}
    assert store._documents is None  # handed out once, its file closed


def test_reset_forgets_every_record_a_page_at_a_time(ccf: Any, filled: str) -> None:
    store = ApiStateStore(CCFClient(ccf, filled), page_size=PAGE)
    store.save_checkpoint("any", {"since": 1})
    with ListingCounter(ccf) as counter:
        store.reset("any")

    assert counter.calls["BatchDeleteCustomConnectorDocuments"] == 26
    assert ApiStateStore(CCFClient(ccf, filled)).load_checksums("any") == {}
    assert store.get_checkpoint("any") is None


def text(number: int) -> Document:
    """Small text document ``number``, with a version (a rerun reads nothing)."""
    return Document(
        id=doc_id(number),
        content=f"text {number}",
        version="1",
        metadata=DocumentMetadata(title=f"Text {number}"),
    )


def test_an_unchanged_rerun_lists_the_state_once(
    ccf: Any, connector_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notes are read first, then the documents: one listing serves both, kept on disk."""
    monkeypatch.setattr("ccf_core.state.api.KEEP_DOCUMENTS", PAGE)
    first = SyncEngine(AcceptingDestination(), ApiStateStore(CCFClient(ccf, connector_id), page_size=PAGE))
    assert first.run(NumberedDocuments(RECORDS, text)).added == RECORDS

    store = ApiStateStore(CCFClient(ccf, connector_id), page_size=PAGE)
    with ListingCounter(ccf) as counter:
        report = SyncEngine(AcceptingDestination(), store).run(NumberedDocuments(RECORDS, text))

    assert (report.unchanged, report.added, report.failed) == (RECORDS, 0, 0)
    assert counter.calls["ListCustomConnectorDocuments"] == RECORDS // PAGE
    assert counter.calls["BatchPutCustomConnectorDocuments"] == 0
