"""The API state store streams document checksums a page of 1,000 at a time, holding one page."""

from __future__ import annotations

from typing import Any

from ccf_core.state.api import ApiStateStore

RECORDS = 3_500


class PagedDocuments:
    """The document listing of the CCF API (``list_custom_connector_documents``), counting pages."""

    def __init__(self) -> None:
        self.ids = [f"doc-{number:05d}" for number in range(RECORDS)] + ["group:g", "meta:n"]
        self.page_sizes: list[int] = []

    def list_custom_connector_documents(self, connector_id: str, **params: Any) -> dict[str, Any]:
        start = int(params.get("next_token") or 0)
        size = params["max_results"]
        self.page_sizes.append(size)
        page = self.ids[start : start + size]
        answer: dict[str, Any] = {
            "documents": [
                {"document_id": item, "checksum": "c" * 64, "created_at": "t", "updated_at": "t"}
                for item in page
            ]
        }
        if start + size < len(self.ids):
            answer["next_token"] = str(start + size)
        return answer


def test_documents_are_listed_lazily_in_pages_of_a_thousand() -> None:
    api = PagedDocuments()
    store = ApiStateStore(api, connector_id="cc-0123456789abcdef")
    stream = store.iter_checksums("any")

    first = [next(stream) for _ in range(1_000)]
    assert api.page_sizes == [1_000]
    rest = list(stream)

    assert [item for item, _ in first + rest] == [f"doc-{number:05d}" for number in range(RECORDS)]
    assert api.page_sizes == [1_000] * 4


def test_groups_and_notes_met_while_streaming_documents_cost_no_further_call() -> None:
    api = PagedDocuments()
    store = ApiStateStore(api, connector_id="cc-0123456789abcdef")
    assert len(list(store.iter_checksums("any"))) == RECORDS

    assert store.load_checksums("any", kind="group") == {"g": "c" * 64}
    assert store.load_checksums("any", kind="meta") == {"n": "c" * 64}
    assert len(api.page_sizes) == 4


def test_many_documents_listed_for_a_note_are_kept_on_disk_for_the_document_load(monkeypatch) -> None:
    """Past KEEP_DOCUMENTS the documents go to a temporary file: still one listing per run."""
    monkeypatch.setattr("ccf_core.state.api.KEEP_DOCUMENTS", 100)
    api = PagedDocuments()
    store = ApiStateStore(api, connector_id="cc-0123456789abcdef")
    assert store.load_checksums("any", kind="meta") == {"n": "c" * 64}
    assert store._documents is not None and store._documents.on_disk

    assert store.load_checksums("any") == {f"doc-{number:05d}": "c" * 64 for number in range(RECORDS)}
    assert len(api.page_sizes) == 4
    assert len(store.load_checksums("any")) == RECORDS  # handed out once: the next load lists again
    assert len(api.page_sizes) == 8


def test_a_document_write_drops_the_documents_kept_for_the_next_load() -> None:
    api = PagedDocuments()
    api.batch_put_custom_connector_documents = lambda connector_id, documents: {}
    store = ApiStateStore(api, connector_id="cc-0123456789abcdef")
    store.load_checksums("any", kind="meta")
    store.record("any", [("doc-new", "d" * 64)])

    assert len(store.load_checksums("any")) == RECORDS
    assert len(api.page_sizes) == 8
