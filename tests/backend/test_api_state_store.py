"""ApiStateStore: the engine's StateStore kept in the backend through the CCF API."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ccf_core.api import CCFClient
from ccf_core.ports import StateStore
from ccf_core.state.api import ApiStateStore, decode_id, encode_id

#: Every test runs on both storage implementations (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")


@pytest.fixture
def store(ccf: Any, connector_id: str) -> ApiStateStore:
    return ApiStateStore(CCFClient(ccf, connector_id))


@pytest.fixture
def calls(ccf: Any) -> Counter[str]:
    """Counts the API operations the ``ccf`` client calls."""
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    ccf.meta.events.register("before-call.*.*", count)
    yield counter
    ccf.meta.events.unregister("before-call.*.*", count)


def test_it_is_a_state_store(store: ApiStateStore) -> None:
    assert isinstance(store, StateStore)
    assert store.connector_id in store.describe()


def test_round_trip_of_documents_groups_and_checkpoint(store: ApiStateStore) -> None:
    store.record("gitlab", [("a", "1" * 64), ("b", "2" * 64), ("group:looks-like-a-group", "3" * 64)])
    store.record("gitlab", [("engineers", "4" * 64)], kind="group")
    assert store.load_checksums("gitlab") == {
        "a": "1" * 64,
        "b": "2" * 64,
        "group:looks-like-a-group": "3" * 64,
    }
    assert store.load_checksums("gitlab", kind="group") == {"engineers": "4" * 64}
    store.forget("gitlab", ["a"])
    store.forget("gitlab", ["engineers"], kind="group")
    assert store.load_checksums("gitlab") == {"b": "2" * 64, "group:looks-like-a-group": "3" * 64}
    assert store.load_checksums("gitlab", kind="group") == {}
    assert store.get_checkpoint("gitlab") is None
    store.save_checkpoint("gitlab", {"since": "2025-06-01"})
    assert store.get_checkpoint("gitlab") == {"since": "2025-06-01"}
    store.reset("gitlab")
    assert store.load_checksums("gitlab") == {}
    assert store.get_checkpoint("gitlab") is None


def test_a_new_store_sees_what_a_previous_one_recorded(ccf: Any, connector_id: str) -> None:
    first = ApiStateStore(ccf, connector_id)
    first.record("web", [("page-1", "a" * 64)])
    first.record("web", [("admins", "b" * 64)], kind="group")
    first.save_checkpoint("web", {"n": 1})
    second = ApiStateStore(CCFClient(ccf, connector_id))
    assert second.load_checksums("web") == {"page-1": "a" * 64}
    assert second.load_checksums("web", kind="group") == {"admins": "b" * 64}
    assert second.get_checkpoint("web") == {"n": 1}


def test_groups_after_documents_cost_no_call(store: ApiStateStore, calls: Counter[str]) -> None:
    store.record("web", [("d", "a" * 64)])
    store.record("web", [("g", "b" * 64)], kind="group")
    calls.clear()
    store.load_checksums("web")
    store.load_checksums("web", kind="group")
    assert sum(calls.values()) == 1


@pytest.mark.parametrize(
    ("item_id", "kind", "stored"),
    [
        ("doc", "document", "doc"),
        ("group:x", "document", "doc:group:x"),
        ("doc:x", "document", "doc:doc:x"),
        ("engineers", "group", "group:engineers"),
    ],
)
def test_ids_are_escaped_so_kinds_never_collide(item_id: str, kind: str, stored: str) -> None:
    assert encode_id(item_id, kind) == stored
    assert decode_id(stored) == (kind, item_id)


def test_a_boto3_client_needs_a_connector_id(ccf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID", raising=False)
    with pytest.raises(ValueError, match="connector_id"):
        ApiStateStore(ccf)
    monkeypatch.setenv("CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID", "cc-0123456789ab")
    assert ApiStateStore(ccf).connector_id == "cc-0123456789ab"


def test_the_engine_keeps_its_state_in_the_backend(store: ApiStateStore, tmp_path: Any) -> None:
    """Two real syncs into the local index: the second finds everything unchanged via the API."""
    from ccf_core import Connector, Document, DocumentMetadata, RunStatus, SyncEngine
    from ccf_core.destinations.local_index import LocalIndex

    class Pages(Connector):
        name = "pages"

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

        def documents(self, context: Any) -> Any:
            for number in range(self.count):
                yield Document(
                    id=f"page-{number}",
                    content=f"page {number}",
                    metadata=DocumentMetadata(title=f"P{number}"),
                )

    index = LocalIndex(tmp_path / "index.db")
    first = SyncEngine(index, store).run(Pages(3))
    assert first.status is RunStatus.SUCCEEDED
    assert first.added == 3
    assert set(store.load_checksums("pages")) == {"page-0", "page-1", "page-2"}
    second = SyncEngine(index, ApiStateStore(store.ccf)).run(Pages(2))
    assert (second.unchanged, second.added, second.deleted) == (2, 0, 1)
    assert set(ApiStateStore(store.ccf).load_checksums("pages")) == {"page-0", "page-1"}
